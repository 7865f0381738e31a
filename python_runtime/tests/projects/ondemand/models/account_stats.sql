select * from (
    values
        (1::bigint, timestamp '2026-01-01 00:00:00', 100.0::double, 'DE', 3::bigint),
        (1::bigint, timestamp '2026-01-02 00:00:00', 110.0::double, 'DE', 4::bigint),
        (2::bigint, timestamp '2026-01-02 00:00:00', 0.0::double, 'FR', 0::bigint),
        (3::bigint, timestamp '2026-01-02 00:00:00', null::double, null, 7::bigint)
) as t(account_id, as_of, balance, country, transfers_7d)
