"""The `show` and `audit` application: config -> mask setup, reading data, views, reports."""
