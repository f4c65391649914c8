// Hidden tests of {{id}}: mocha + chai + hardhat-ethers + hardhat-chai-matchers, run
// by the hardhat runtime against a fresh Anvil chain. Every test deploys its own
// contract through loadFixture, so no test depends on another.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");

async function deploy() {
  const [owner, other] = await ethers.getSigners();
  const counter = await ethers.deployContract("{{contract}}");
  await counter.waitForDeployment();
  return { counter, owner, other };
}

describe("{{contract}}", function () {
  it("starts at zero, owned by the deployer", async function () {
    const { counter, owner } = await loadFixture(deploy);
    expect(await counter.count()).to.equal(0n);
    expect(await counter.owner()).to.equal(owner.address);
  });

  it("counts every increment", async function () {
    const { counter, other } = await loadFixture(deploy);
    await (await counter.increment()).wait();
    await (await counter.connect(other).increment()).wait();
    expect(await counter.count()).to.equal(2n);
  });

  it("emits Incremented with the caller and the new count", async function () {
    const { counter, other } = await loadFixture(deploy);
    await expect(counter.connect(other).increment())
      .to.emit(counter, "Incremented")
      .withArgs(other.address, 1n);
  });

  it("lets the owner reset the count", async function () {
    const { counter } = await loadFixture(deploy);
    await (await counter.increment()).wait();
    await (await counter.reset()).wait();
    expect(await counter.count()).to.equal(0n);
  });

  it("refuses a reset by anyone else with NotOwner", async function () {
    const { counter, other } = await loadFixture(deploy);
    await (await counter.increment()).wait();
    await expect(counter.connect(other).reset())
      .to.be.revertedWithCustomError(counter, "NotOwner")
      .withArgs(other.address);
    expect(await counter.count()).to.equal(1n);
  });
});
