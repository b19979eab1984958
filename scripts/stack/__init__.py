"""Running the whole stack: locally for `make up` and the tests, and through compose."""
