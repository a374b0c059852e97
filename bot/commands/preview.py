"""`preview`: the threads the bot would post (built by the thread-composer work)."""
