select * from (
    values
        (10::bigint, 1::bigint, 2::bigint, 25.50::decimal(12, 2), 'DE', timestamp '2026-01-02 12:00:00'),
        (11::bigint, 2::bigint, 1::bigint, 1.00::decimal(12, 2), 'US', timestamp '2026-01-02 13:00:00'),
        (12::bigint, 1::bigint, 9::bigint, 0.00::decimal(12, 2), null, timestamp '2026-01-01 12:00:00'),
        (13::bigint, 3::bigint, 1::bigint, 99.99::decimal(12, 2), 'FR', timestamp '2026-01-03 00:00:00')
) as t(transfer_id, payer_id, payee_id, amount, country, transfer_ts)
