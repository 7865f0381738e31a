-- Declared types dbt did not build: `ratio` is a double declared bigint, `total` a decimal(38,0)
-- (sum of bigints) declared decimal(18,4).
select cast(1 as bigint) as user_id, cast('2099-01-01 10:00:00' as timestamp) as ts,
  sum(cast(1 as bigint)) as total, cast(0.5 as double) as ratio
