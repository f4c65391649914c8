"""A bank account that never loses a cent (reference solution)."""


class InsufficientFundsError(Exception):
    """Raised when a withdrawal is larger than the balance."""


class AccountClosedError(Exception):
    """Raised by deposit, withdraw and close on a closed account."""


def _check_amount(amount):
    if type(amount) is not int or amount <= 0:
        raise ValueError(f"an amount must be a positive int of cents, not {amount!r}")


class BankAccount:
    def __init__(self, owner):
        if type(owner) is not str or not owner:
            raise ValueError("an account needs an owner's name")
        self.owner = owner
        self._balance = 0
        self._history = []
        self._closed = False

    @property
    def balance(self):
        return self._balance

    def _check_open(self):
        if self._closed:
            raise AccountClosedError(f"{self.owner}'s account is closed")

    def deposit(self, amount):
        self._check_open()
        _check_amount(amount)
        self._balance += amount
        self._history.append(amount)
        return self._balance

    def withdraw(self, amount):
        self._check_open()
        _check_amount(amount)
        if amount > self._balance:
            raise InsufficientFundsError(
                f"cannot withdraw {amount} cents from a balance of {self._balance}"
            )
        self._balance -= amount
        self._history.append(-amount)
        return self._balance

    def history(self):
        return list(self._history)

    def close(self):
        self._check_open()
        paid_out, self._balance = self._balance, 0
        self._closed = True
        return paid_out
