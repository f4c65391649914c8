// Tests of the NameRegistry exercise. Each test deploys its own registry through
// loadFixture, so no test depends on another's state; accounts are Anvil's
// standard dev accounts.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");

const ALICE = ethers.encodeBytes32String("alice.eth");
const BOB = ethers.encodeBytes32String("bob.eth");

async function deployRegistry() {
  const [owner, registrar, otherRegistrar, stranger, target, newTarget] = await ethers.getSigners();
  const registry = await ethers.deployContract("NameRegistry");
  await registry.waitForDeployment();
  return { registry, owner, registrar, otherRegistrar, stranger, target, newTarget };
}

// A registry with two registrars, each having registered one name.
async function deployWithRecords() {
  const accounts = await deployRegistry();
  const { registry, registrar, otherRegistrar, target } = accounts;
  await (await registry.addRegistrar(registrar.address)).wait();
  await (await registry.addRegistrar(otherRegistrar.address)).wait();
  await (await registry.connect(registrar).register(ALICE, target.address)).wait();
  await (await registry.connect(otherRegistrar).register(BOB, target.address)).wait();
  return accounts;
}

describe("NameRegistry", function () {
  it("starts owned by its deployer, with no registrars", async function () {
    const { registry, owner, registrar } = await loadFixture(deployRegistry);
    expect(await registry.owner()).to.equal(owner.address);
    expect(await registry.pendingOwner()).to.equal(ethers.ZeroAddress);
    expect(await registry.isRegistrar(owner.address)).to.equal(false);
    expect(await registry.isRegistrar(registrar.address)).to.equal(false);
    expect(await registry.resolve(ALICE)).to.equal(ethers.ZeroAddress);
  });

  it("lets only the owner appoint and dismiss registrars", async function () {
    const { registry, registrar, stranger } = await loadFixture(deployRegistry);
    await expect(registry.connect(stranger).addRegistrar(stranger.address))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(stranger.address);
    expect(await registry.isRegistrar(stranger.address)).to.equal(false);

    await expect(registry.addRegistrar(registrar.address))
      .to.emit(registry, "RegistrarAdded")
      .withArgs(registrar.address);
    expect(await registry.isRegistrar(registrar.address)).to.equal(true);
    await expect(registry.addRegistrar(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      registry,
      "ZeroAddress",
    );

    await expect(registry.connect(stranger).removeRegistrar(registrar.address))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(stranger.address);
    await expect(registry.removeRegistrar(registrar.address))
      .to.emit(registry, "RegistrarRemoved")
      .withArgs(registrar.address);
    expect(await registry.isRegistrar(registrar.address)).to.equal(false);
  });

  it("lets registrars register names that anyone can resolve", async function () {
    const { registry, registrar, stranger, target } = await loadFixture(deployRegistry);
    await (await registry.addRegistrar(registrar.address)).wait();

    await expect(registry.connect(registrar).register(ALICE, target.address))
      .to.emit(registry, "NameRegistered")
      .withArgs(ALICE, target.address, registrar.address);
    expect(await registry.connect(stranger).resolve(ALICE)).to.equal(target.address);
    expect(await registry.registrarOf(ALICE)).to.equal(registrar.address);

    await expect(registry.connect(stranger).register(BOB, stranger.address))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(stranger.address);
    await expect(registry.connect(registrar).register(ALICE, stranger.address))
      .to.be.revertedWithCustomError(registry, "AlreadyRegistered")
      .withArgs(ALICE);
    await expect(
      registry.connect(registrar).register(BOB, ethers.ZeroAddress),
    ).to.be.revertedWithCustomError(registry, "ZeroAddress");
    expect(await registry.resolve(BOB)).to.equal(ethers.ZeroAddress);
  });

  it("lets a record's own registrar update and remove it, but no other registrar", async function () {
    const { registry, registrar, otherRegistrar, target, newTarget } =
      await loadFixture(deployWithRecords);

    await expect(registry.connect(otherRegistrar).update(ALICE, otherRegistrar.address))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(otherRegistrar.address);
    await expect(registry.connect(otherRegistrar).remove(ALICE))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(otherRegistrar.address);
    expect(await registry.resolve(ALICE)).to.equal(target.address);

    await expect(registry.connect(registrar).update(ALICE, newTarget.address))
      .to.emit(registry, "NameUpdated")
      .withArgs(ALICE, newTarget.address);
    expect(await registry.resolve(ALICE)).to.equal(newTarget.address);
    await expect(registry.connect(registrar).remove(ALICE))
      .to.emit(registry, "NameRemoved")
      .withArgs(ALICE);
    expect(await registry.resolve(ALICE)).to.equal(ethers.ZeroAddress);
    expect(await registry.resolve(BOB)).to.equal(target.address);
  });

  it("lets the owner manage any record, and a dismissed registrar none", async function () {
    const { registry, registrar, stranger, newTarget } = await loadFixture(deployWithRecords);
    await (await registry.removeRegistrar(registrar.address)).wait();

    await expect(registry.connect(registrar).update(ALICE, registrar.address))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(registrar.address);
    await expect(registry.connect(stranger).remove(BOB))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(stranger.address);

    await expect(registry.update(ALICE, newTarget.address))
      .to.emit(registry, "NameUpdated")
      .withArgs(ALICE, newTarget.address);
    await expect(registry.remove(BOB)).to.emit(registry, "NameRemoved").withArgs(BOB);
    expect(await registry.resolve(ALICE)).to.equal(newTarget.address);
    expect(await registry.resolve(BOB)).to.equal(ethers.ZeroAddress);
  });

  it("refuses to change names that are not registered", async function () {
    const { registry, registrar, target } = await loadFixture(deployWithRecords);
    const unknown = ethers.encodeBytes32String("nobody.eth");
    await expect(registry.update(unknown, target.address))
      .to.be.revertedWithCustomError(registry, "NotRegistered")
      .withArgs(unknown);
    await expect(registry.connect(registrar).remove(unknown))
      .to.be.revertedWithCustomError(registry, "NotRegistered")
      .withArgs(unknown);
    await expect(registry.update(ALICE, ethers.ZeroAddress)).to.be.revertedWithCustomError(
      registry,
      "ZeroAddress",
    );
  });

  it("hands ownership over in two steps, to the offered account only", async function () {
    const { registry, owner, registrar, stranger } = await loadFixture(deployRegistry);

    await expect(registry.connect(stranger).transferOwnership(stranger.address))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(stranger.address);
    await expect(registry.transferOwnership(registrar.address))
      .to.emit(registry, "OwnershipTransferStarted")
      .withArgs(owner.address, registrar.address);
    expect(await registry.owner()).to.equal(owner.address);
    expect(await registry.pendingOwner()).to.equal(registrar.address);

    await expect(registry.connect(stranger).acceptOwnership())
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(stranger.address);
    expect(await registry.owner()).to.equal(owner.address);

    await expect(registry.connect(registrar).acceptOwnership())
      .to.emit(registry, "OwnershipTransferred")
      .withArgs(owner.address, registrar.address);
    expect(await registry.owner()).to.equal(registrar.address);
    expect(await registry.pendingOwner()).to.equal(ethers.ZeroAddress);

    // The previous owner has lost its rights; the new one has them.
    await expect(registry.addRegistrar(stranger.address))
      .to.be.revertedWithCustomError(registry, "Unauthorized")
      .withArgs(owner.address);
    await expect(registry.connect(registrar).addRegistrar(stranger.address))
      .to.emit(registry, "RegistrarAdded")
      .withArgs(stranger.address);
  });
});
