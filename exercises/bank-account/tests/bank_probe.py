"""Probes that need a few lines of code against the learner's class. They run in the
untrusted child (harness.py) and only return plain data; the judge decides."""

import bank


def history_after_tampering():
    account = bank.BankAccount("Ada")
    account.deposit(500)
    h = account.history()
    h.append(99)
    if h:
        h[0] = 1
    return account.history()


def assign_balance():
    account = bank.BankAccount("Ada")
    account.balance = 1000000
    return account.balance


def two_accounts():
    a = bank.BankAccount("Ada")
    b = bank.BankAccount("Bob")
    a.deposit(500)
    return [a.balance, b.balance, a.history(), b.history()]
