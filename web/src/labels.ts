// Words for the API's identifiers.

const RUNTIMES: Record<string, string> = {
  python: "Python",
  node: "JavaScript (Node.js)",
  shell: "Shell",
  hardhat: "Solidity (Hardhat)",
};

export function runtimeName(runtime: string): string {
  return RUNTIMES[runtime] ?? runtime;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${+(n / 1024 / 1024 / 1024).toFixed(1)} GiB`;
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

export function formatSeconds(ms: number): string {
  return `${+(ms / 1000).toFixed(1)} s`;
}
