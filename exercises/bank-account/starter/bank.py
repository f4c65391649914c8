# A bank account that never loses a cent: see the statement.


class InsufficientFundsError(Exception):
    """Raised when a withdrawal is larger than the balance."""


class AccountClosedError(Exception):
    """Raised by deposit, withdraw and close on a closed account."""


class BankAccount:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0

    def deposit(self, amount):
        # TODO: check the amount, record the deposit.
        self.balance += amount
        return self.balance

    def withdraw(self, amount):
        # TODO: check the amount and the balance, record the withdrawal.
        self.balance -= amount
        return self.balance

    def history(self):
        # TODO
        return []

    def close(self):
        # TODO
        return self.balance
