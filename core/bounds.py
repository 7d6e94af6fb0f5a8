"""The largest integers our columns hold: a bigger id, version or offset is a 422, not a 500.

PostgreSQL refuses a parameter past a column's type ("integer out of range", a 500 if it
reaches the database) and an OFFSET past BIGINT; the routes bound every integer they take.
"""

INT32_MAX = 2**31 - 1  # INTEGER columns: version numbers
INT64_MAX = 2**63 - 1  # BIGINT columns (sequence numbers, outbox ids) and OFFSET
