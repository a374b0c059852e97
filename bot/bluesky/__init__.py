"""The only package that speaks AT Protocol: the connection and its retries, sign-in and the
saved session, a thread's records, publishing a thread atomically and finding one."""
