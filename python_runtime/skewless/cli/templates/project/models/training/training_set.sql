{#
    The training set: every labelled order with the customer's features as they were just before
    it (strict=true: the order's own row is not visible to itself), point-in-time correct — what
    serving returned when the order came in.
#}
{{ skewless.point_in_time_join(
    spine=ref('order_labels'),
    spine_timestamp='label_ts',
    feature_views=[ref('customer_stats')],
    strict=true,
) }}
