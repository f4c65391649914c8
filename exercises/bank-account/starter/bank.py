"""A bank account that never loses a cent.

Write the class BankAccount and the two exceptions below. Money is counted in whole
cents, as ints, so there is no rounding anywhere.

BankAccount(owner)
    A new account for `owner` (a non-empty str, else ValueError), with a balance of 0.

account.owner        the owner's name, as given.
account.balance      the balance in cents (a read-only property: assigning to it
                     raises AttributeError).
account.deposit(amount)
    Adds `amount` cents and returns the new balance.
account.withdraw(amount)
    Takes `amount` cents out and returns the new balance. If the balance is too
    small, raises InsufficientFundsError and leaves the balance unchanged.
account.history()
    A list of every deposit (positive) and withdrawal (negative), oldest first, e.g.
    [500, -200]. Changing the returned list must not change the account.
account.close()
    Closes the account and returns the balance that was paid out; the balance is
    then 0. After that, deposit, withdraw and close raise AccountClosedError.

Amounts: an amount must be an int greater than 0. Anything else (0, -5, 2.5, "10",
True) raises ValueError, and the account is unchanged.

Example:
    acct = BankAccount("Ada")
    acct.deposit(500)      # 500
    acct.withdraw(200)     # 300
    acct.withdraw(1000)    # raises InsufficientFundsError; balance still 300
    acct.history()         # [500, -200]
    acct.close()           # 300
"""


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
