// Tests of the TimelockVault exercise. Every test deploys its own vault through
// loadFixture and reads times from the chain (time.latest, block timestamps), never
// from the wall clock, so it holds on a freshly reset Anvil chain whatever its
// clock says.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");

const DAY = 24 * 60 * 60;
const ONE_ETH = ethers.parseEther("1");

async function deployVault() {
  const [alice, bob, carol] = await ethers.getSigners();
  const vault = await ethers.deployContract("TimelockVault");
  await vault.waitForDeployment();
  return { vault, alice, bob, carol };
}

// Deposits `value` for `delay` seconds from `signer`; returns the lock id and its
// unlock time as computed from the block that mined the deposit.
async function depositFrom(vault, signer, value, delay) {
  const id = await vault.lockCount();
  const receipt = await (await vault.connect(signer).deposit(delay, { value })).wait();
  const block = await ethers.provider.getBlock(receipt.blockNumber);
  return { id, unlockTime: BigInt(block.timestamp) + BigInt(delay) };
}

describe("TimelockVault", function () {
  it("records a deposit and rejects empty or badly timed ones", async function () {
    const { vault, alice } = await loadFixture(deployVault);
    const { id, unlockTime } = await depositFrom(vault, alice, ONE_ETH, DAY);

    const lock = await vault.getLock(id);
    expect(lock.owner).to.equal(alice.address);
    expect(lock.amount).to.equal(ONE_ETH);
    expect(lock.unlockTime).to.equal(unlockTime);
    expect(lock.withdrawn).to.equal(false);
    expect(await ethers.provider.getBalance(await vault.getAddress())).to.equal(ONE_ETH);

    await expect(vault.deposit(DAY, { value: 0 })).to.be.revertedWithCustomError(vault, "ZeroDeposit");
    await expect(vault.deposit(0, { value: 1 }))
      .to.be.revertedWithCustomError(vault, "InvalidDelay")
      .withArgs(0);
    await expect(vault.deposit(366 * DAY, { value: 1 }))
      .to.be.revertedWithCustomError(vault, "InvalidDelay")
      .withArgs(366 * DAY);
  });

  it("keeps the ether locked until the unlock time", async function () {
    const { vault, alice } = await loadFixture(deployVault);
    const { id, unlockTime } = await depositFrom(vault, alice, ONE_ETH, 7 * DAY);

    await expect(vault.withdraw(id))
      .to.be.revertedWithCustomError(vault, "StillLocked")
      .withArgs(id, unlockTime);

    await time.increaseTo(unlockTime - 60n);
    await expect(vault.withdraw(id))
      .to.be.revertedWithCustomError(vault, "StillLocked")
      .withArgs(id, unlockTime);
    expect((await vault.getLock(id)).withdrawn).to.equal(false);
  });

  it("pays the owner from the unlock time on and marks the lock withdrawn", async function () {
    const { vault, alice } = await loadFixture(deployVault);
    const amount = ethers.parseEther("2.5");
    const { id, unlockTime } = await depositFrom(vault, alice, amount, 3 * DAY);

    // The very second the lock opens.
    await time.setNextBlockTimestamp(unlockTime);
    const tx = vault.withdraw(id);
    await expect(tx).to.changeEtherBalances([alice, vault], [amount, -amount]);
    await expect(tx).to.emit(vault, "Withdrawn").withArgs(id, alice.address, amount);
    expect((await vault.getLock(id)).withdrawn).to.equal(true);
  });

  it("pays a lock only once", async function () {
    const { vault, alice } = await loadFixture(deployVault);
    await depositFrom(vault, alice, ONE_ETH, DAY); // other ether in the vault
    const { id } = await depositFrom(vault, alice, ONE_ETH, DAY);

    await time.increase(2 * DAY);
    await (await vault.withdraw(id)).wait();
    await expect(vault.withdraw(id))
      .to.be.revertedWithCustomError(vault, "AlreadyWithdrawn")
      .withArgs(id);
    expect(await ethers.provider.getBalance(await vault.getAddress())).to.equal(ONE_ETH);
  });

  it("lets only the owner withdraw, and knows its locks", async function () {
    const { vault, alice, bob } = await loadFixture(deployVault);
    const { id } = await depositFrom(vault, alice, ONE_ETH, DAY);
    await time.increase(2 * DAY);

    await expect(vault.connect(bob).withdraw(id))
      .to.be.revertedWithCustomError(vault, "NotLockOwner")
      .withArgs(id, bob.address);
    await expect(vault.withdraw(id + 1n))
      .to.be.revertedWithCustomError(vault, "UnknownLock")
      .withArgs(id + 1n);
    await expect(vault.getLock(id + 1n))
      .to.be.revertedWithCustomError(vault, "UnknownLock")
      .withArgs(id + 1n);
  });

  it("extends a lock only to a later time, within the maximum delay", async function () {
    const { vault, alice, bob } = await loadFixture(deployVault);
    const { id, unlockTime } = await depositFrom(vault, alice, ONE_ETH, DAY);
    const later = unlockTime + BigInt(5 * DAY);

    await expect(vault.extend(id, later)).to.emit(vault, "Extended").withArgs(id, later);
    expect((await vault.getLock(id)).unlockTime).to.equal(later);

    await expect(vault.extend(id, later))
      .to.be.revertedWithCustomError(vault, "NotLater")
      .withArgs(later, later);
    await expect(vault.extend(id, unlockTime))
      .to.be.revertedWithCustomError(vault, "NotLater")
      .withArgs(later, unlockTime);
    await expect(vault.connect(bob).extend(id, later + 1n))
      .to.be.revertedWithCustomError(vault, "NotLockOwner")
      .withArgs(id, bob.address);
    const tooFar = BigInt(await time.latest()) + BigInt(400 * DAY);
    await expect(vault.extend(id, tooFar)).to.be.revertedWithCustomError(vault, "InvalidDelay");

    // The old unlock time no longer opens the lock.
    await time.increaseTo(unlockTime + 1n);
    await expect(vault.withdraw(id))
      .to.be.revertedWithCustomError(vault, "StillLocked")
      .withArgs(id, later);
  });

  it("keeps each depositor's locks separate", async function () {
    const { vault, alice, bob, carol } = await loadFixture(deployVault);
    const short = await depositFrom(vault, alice, ONE_ETH, DAY);
    const long = await depositFrom(vault, bob, 2n * ONE_ETH, 30 * DAY);

    await time.increaseTo(short.unlockTime);
    const tx = vault.connect(alice).withdraw(short.id);
    await expect(tx).to.changeEtherBalances([alice, bob, vault], [ONE_ETH, 0n, -ONE_ETH]);
    await expect(vault.connect(bob).withdraw(long.id))
      .to.be.revertedWithCustomError(vault, "StillLocked")
      .withArgs(long.id, long.unlockTime);
    await expect(vault.connect(carol).withdraw(long.id))
      .to.be.revertedWithCustomError(vault, "NotLockOwner")
      .withArgs(long.id, carol.address);
    expect(await ethers.provider.getBalance(await vault.getAddress())).to.equal(2n * ONE_ETH);
  });
});
