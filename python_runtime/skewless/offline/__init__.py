"""Reading what dbt built, per engine."""
