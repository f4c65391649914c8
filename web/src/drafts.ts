// Drafts in localStorage, one key per file: `gauntlet:draft:<exercise id>:<path>`.
// A draft equal to the starter is not kept, so "Reset to starter" clears them.

const key = (exercise: string, path: string) => `gauntlet:draft:${exercise}:${path}`;

export function loadDraft(exercise: string, path: string): string | null {
  try {
    return localStorage.getItem(key(exercise, path));
  } catch {
    return null;
  }
}

/** Returns false when the browser refused to store it (storage full or disabled). */
export function saveDraft(exercise: string, path: string, text: string, starter: string): boolean {
  try {
    if (text === starter) localStorage.removeItem(key(exercise, path));
    else localStorage.setItem(key(exercise, path), text);
    return true;
  } catch {
    return false;
  }
}

/** Saves drafts a moment after the last keystroke rather than on every one. */
export class DraftSaver {
  private timers = new Map<string, { timer: number; run: () => void }>();

  constructor(private readonly delayMs = 400) {}

  schedule(path: string, run: () => void): void {
    const prev = this.timers.get(path);
    if (prev) window.clearTimeout(prev.timer);
    const timer = window.setTimeout(() => {
      this.timers.delete(path);
      run();
    }, this.delayMs);
    this.timers.set(path, { timer, run });
  }

  cancel(path: string): void {
    const prev = this.timers.get(path);
    if (prev) window.clearTimeout(prev.timer);
    this.timers.delete(path);
  }

  /** Runs every pending save now (leaving the page). */
  flush(): void {
    for (const { timer, run } of this.timers.values()) {
      window.clearTimeout(timer);
      run();
    }
    this.timers.clear();
  }
}
