-- Declared types dbt did not build: `total` is PostgreSQL's unconstrained numeric (sum of
-- bigint), `ratio` a double declared bigint.
select cast(1 as bigint) as user_id, timestamp '2099-01-01 10:00:00' as ts,
  sum(cast(1 as bigint)) as total, 0.5::double precision as ratio
