from tests.test_rollback import run_rollback, swapped_history, repo, WORKER, BAD, Blocked  # noqa
pytest_plugins = ["tests.wrangler_fixtures"]

def test_show(emulator, wrangler, repo):
    swapped_history(emulator, repo)
    code, out = run_rollback(repo, wrangler, stdin="acme\n")
    print(out)
