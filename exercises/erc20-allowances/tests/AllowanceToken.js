// Tests of the AllowanceToken exercise. Each test deploys its own token through
// loadFixture (a snapshot of the chain right after deployment), so no test
// depends on another's state, and every test runs on a freshly reset Anvil chain
// with its standard dev accounts.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");

const SUPPLY = ethers.parseEther("1000");
const MAX = ethers.MaxUint256;

async function deployToken() {
  const [owner, spender, recipient, other] = await ethers.getSigners();
  const token = await ethers.deployContract("AllowanceToken", ["Gauntlet Token", "GNT", SUPPLY]);
  await token.waitForDeployment();
  return { token, owner, spender, recipient, other };
}

describe("AllowanceToken", function () {
  it("mints the whole supply to the deployer", async function () {
    const { token, owner } = await loadFixture(deployToken);
    expect(await token.name()).to.equal("Gauntlet Token");
    expect(await token.symbol()).to.equal("GNT");
    expect(await token.decimals()).to.equal(18n);
    expect(await token.totalSupply()).to.equal(SUPPLY);
    expect(await token.balanceOf(owner.address)).to.equal(SUPPLY);
  });

  it("transfers between accounts and rejects overdrafts", async function () {
    const { token, owner, recipient } = await loadFixture(deployToken);
    const amount = ethers.parseEther("10");
    await expect(token.transfer(recipient.address, amount)).to.changeTokenBalances(
      token,
      [owner, recipient],
      [-amount, amount],
    );
    await expect(token.connect(recipient).transfer(owner.address, amount + 1n))
      .to.be.revertedWithCustomError(token, "InsufficientBalance")
      .withArgs(recipient.address, amount, amount + 1n);
  });

  it("approve sets and overwrites an allowance and emits Approval", async function () {
    const { token, owner, spender } = await loadFixture(deployToken);
    await expect(token.approve(spender.address, 500n))
      .to.emit(token, "Approval")
      .withArgs(owner.address, spender.address, 500n);
    expect(await token.allowance(owner.address, spender.address)).to.equal(500n);

    await expect(token.approve(spender.address, 20n))
      .to.emit(token, "Approval")
      .withArgs(owner.address, spender.address, 20n);
    expect(await token.allowance(owner.address, spender.address)).to.equal(20n);
  });

  it("approve rejects the zero address as spender", async function () {
    const { token } = await loadFixture(deployToken);
    await expect(token.approve(ethers.ZeroAddress, 1n)).to.be.revertedWithCustomError(
      token,
      "ZeroAddress",
    );
  });

  it("transferFrom moves tokens and spends the allowance", async function () {
    const { token, owner, spender, recipient } = await loadFixture(deployToken);
    await (await token.approve(spender.address, 300n)).wait();

    const tx = token.connect(spender).transferFrom(owner.address, recipient.address, 120n);
    await expect(tx).to.changeTokenBalances(token, [owner, recipient, spender], [-120n, 120n, 0n]);
    await expect(tx).to.emit(token, "Transfer").withArgs(owner.address, recipient.address, 120n);
    expect(await token.allowance(owner.address, spender.address)).to.equal(180n);
  });

  it("transferFrom beyond the allowance reverts with InsufficientAllowance", async function () {
    const { token, owner, spender, recipient } = await loadFixture(deployToken);
    await (await token.approve(spender.address, 50n)).wait();

    await expect(token.connect(spender).transferFrom(owner.address, recipient.address, 51n))
      .to.be.revertedWithCustomError(token, "InsufficientAllowance")
      .withArgs(spender.address, 50n, 51n);
    // Nobody else's allowance can be used either.
    await expect(token.connect(recipient).transferFrom(owner.address, recipient.address, 1n))
      .to.be.revertedWithCustomError(token, "InsufficientAllowance")
      .withArgs(recipient.address, 0n, 1n);
    expect(await token.allowance(owner.address, spender.address)).to.equal(50n);
    expect(await token.balanceOf(recipient.address)).to.equal(0n);
  });

  it("transferFrom checks the owner's balance even with enough allowance", async function () {
    const { token, owner, spender, recipient, other } = await loadFixture(deployToken);
    await (await token.transfer(other.address, 100n)).wait();
    await (await token.connect(other).approve(spender.address, 1000n)).wait();

    await expect(token.connect(spender).transferFrom(other.address, recipient.address, 101n))
      .to.be.revertedWithCustomError(token, "InsufficientBalance")
      .withArgs(other.address, 100n, 101n);
    await expect(
      token.connect(spender).transferFrom(other.address, ethers.ZeroAddress, 1n),
    ).to.be.revertedWithCustomError(token, "ZeroAddress");
    expect(await token.allowance(other.address, spender.address)).to.equal(1000n);
    expect(await token.balanceOf(owner.address)).to.equal(SUPPLY - 100n);
  });

  it("an unlimited allowance is never decreased", async function () {
    const { token, owner, spender, recipient } = await loadFixture(deployToken);
    await (await token.approve(spender.address, MAX)).wait();

    const amount = ethers.parseEther("250");
    await expect(
      token.connect(spender).transferFrom(owner.address, recipient.address, amount),
    ).to.changeTokenBalances(token, [owner, recipient], [-amount, amount]);
    expect(await token.allowance(owner.address, spender.address)).to.equal(MAX);
  });
});
