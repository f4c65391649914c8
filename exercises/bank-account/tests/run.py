"""Hidden tests for bank-account. Prints TAP; see .gauntlet/runner/judge.py for why it cannot be forged."""

import os
import sys

# The runner comes with the runtime, in .gauntlet/runner/ (see exercises/README.md).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402
from judge import Failure  # noqa: E402

suite = judge.Suite("bank-account")


def run(steps, owner="Ada"):
    """Builds BankAccount(owner), runs the steps, returns their outcomes (not the
    constructor's, which must succeed)."""
    outcomes = judge.scenario("bank", "BankAccount", [owner], steps)
    outcomes[0].expect_value(None, f"BankAccount({owner!r})")
    return outcomes[1:]


def label(step):
    if step[0] == "get":
        return f"account.{step[1]}"
    return f"account.{step[1]}({', '.join(repr(a) for a in step[2])})"


def expect(steps_and_results, owner="Ada"):
    """[(step, expected)] where expected is a value or ("raises", "ErrorName")."""
    steps = [s for s, _ in steps_and_results]
    outcomes = run(steps, owner)
    done = []
    for (step, expected), outcome in zip(steps_and_results, outcomes):
        what = " ; ".join(done + [label(step)])
        if isinstance(expected, tuple) and expected[:1] == ("raises",):
            outcome.expect_raises(expected[1], what)
        else:
            outcome.expect_value(expected, what)
        done.append(label(step))


def deposit(n):
    return ["call", "deposit", [n]]


def withdraw(n):
    return ["call", "withdraw", [n]]


BALANCE = ["get", "balance"]
HISTORY = ["call", "history", []]
CLOSE = ["call", "close", []]


@suite.test("a new account has the owner's name and a balance of 0")
def _():
    expect([(["get", "owner"], "Ada"), (BALANCE, 0)])


@suite.test("deposit adds to the balance and returns the new balance")
def _():
    expect([(deposit(500), 500), (deposit(250), 750), (BALANCE, 750)])


@suite.test("withdraw takes from the balance and returns the new balance")
def _():
    expect([(deposit(500), 500), (withdraw(200), 300), (withdraw(300), 0), (BALANCE, 0)])


@suite.test("withdrawing more than the balance raises InsufficientFundsError")
def _():
    expect([(deposit(300), 300), (withdraw(301), ("raises", "InsufficientFundsError"))])


@suite.test("a refused withdrawal leaves the balance and history unchanged")
def _():
    expect([
        (deposit(300), 300),
        (withdraw(1000), ("raises", "InsufficientFundsError")),
        (BALANCE, 300),
        (HISTORY, [300]),
    ])


@suite.test("zero, negative, fractional, text and boolean amounts raise ValueError")
def _():
    bad = [0, -5, 2.5, "10", True, None]
    steps = [(deposit(300), 300)]
    for amount in bad:
        steps.append((deposit(amount), ("raises", "ValueError")))
        steps.append((withdraw(amount), ("raises", "ValueError")))
    steps.append((BALANCE, 300))
    expect(steps)


@suite.test("history lists deposits and withdrawals in order, withdrawals negative")
def _():
    expect([(deposit(500), 500), (withdraw(200), 300), (deposit(1), 301), (HISTORY, [500, -200, 1])])


@suite.test("changing the list from history() does not change the account")
def _():
    # Probes (tests/bank_probe.py) run a few lines of code against the learner's class
    # inside the child, and return plain data for the judge to check.
    judge.call("bank_probe", "history_after_tampering").expect_value(
        [500], "h = account.history(); h.append(99); h[0] = 1; account.history()"
    )


@suite.test("balance is read-only: assigning to it raises AttributeError")
def _():
    judge.call("bank_probe", "assign_balance").expect_raises(
        "AttributeError", "account.balance = 1000000"
    )


@suite.test("close returns the balance paid out and leaves a balance of 0")
def _():
    expect([(deposit(700), 700), (withdraw(100), 600), (CLOSE, 600), (BALANCE, 0)])


@suite.test("a closed account refuses deposit, withdraw and close with AccountClosedError")
def _():
    expect([
        (deposit(700), 700),
        (CLOSE, 700),
        (deposit(1), ("raises", "AccountClosedError")),
        (withdraw(1), ("raises", "AccountClosedError")),
        (CLOSE, ("raises", "AccountClosedError")),
    ])


@suite.test("an empty owner name raises ValueError")
def _():
    outcomes = judge.scenario("bank", "BankAccount", [""], [])
    if not outcomes[0].raised:
        raise Failure(f"BankAccount('') built an account: expected ValueError{outcomes[0].note}")
    outcomes[0].expect_raises("ValueError", "BankAccount('')")


@suite.test("two accounts do not share a balance or a history")
def _():
    judge.call("bank_probe", "two_accounts").expect_value(
        [500, 0, [500], []], "a = BankAccount('Ada'); b = BankAccount('Bob'); a.deposit(500)"
    )


if __name__ == "__main__":
    suite.main()
