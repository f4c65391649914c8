// Follows one submission: its state (Queued / Running / Finished) in a `role=status`
// element, its live log from the event stream, then its result.
//
// The stream is an EventSource: after a network drop it reconnects by itself and sends
// `Last-Event-ID`, so the server resumes after the last event seen. While it is
// disconnected, and for good if it fails (a 429 stream cap, a proxy that buffers), the
// submission is polled once a second instead, so a result always arrives.

import { api, ApiError, type GradeResult, type State, type Submission } from "./api";
import { h, region } from "./dom";
import { renderResult } from "./result";

/** The rendered log is capped: past this many characters the oldest lines go. */
const LOG_CAP = 1024 * 1024;
const POLL_MS = 1000;
const STATE_WORDS: Record<State, string> = { queued: "Queued", running: "Running", finished: "Finished" };

export interface GradingOptions {
  /** Called once, when the result is rendered. */
  onResult?: (result: GradeResult) => void;
}

export class Grading {
  readonly el: HTMLElement;
  private readonly status = h("p", { role: "status", "aria-live": "polite", class: "state" });
  private readonly detail = h("p", { class: "state-detail muted" });
  private readonly resultBox = h("div", { class: "result-box" });
  private readonly log = h("pre", { class: "log", tabindex: 0 });
  private readonly logRegion: HTMLElement;
  private source: EventSource | null = null;
  private pollTimer: number | null = null;
  private id: string | null = null;
  private finished = false;
  // Log lines wait here until the next animation frame, so a burst of lines costs one
  // DOM update and one layout instead of one per line.
  private pending: string[] = [];
  private frame: number | null = null;
  private chunks: Text[] = [];
  private logChars = 0;
  private logLines = 0;
  private dropped = 0;
  private droppedNote: Text | null = null;

  constructor(private readonly opts: GradingOptions = {}) {
    const { section: logRegion } = region("Live log", "h3", { class: "log-region" }, this.log);
    this.logRegion = logRegion;
    const { section } = region("Grading", "h2", { class: "grading" }, h("div", { class: "state-row" }, this.status, this.detail), this.resultBox, logRegion);
    this.el = section;
    this.el.hidden = true;
  }

  /** Starts following submission `id` (stops following any previous one). */
  follow(id: string, known?: Submission): void {
    this.stop();
    this.id = id;
    this.finished = false;
    this.el.hidden = false;
    this.resultBox.replaceChildren();
    this.clearLog();
    this.detail.textContent = "";
    this.setState(known?.state ?? "queued");
    if (known?.state === "finished" && known.result) {
      this.showResult(known.result);
      return;
    }
    this.openStream();
  }

  /** Stops the stream and the polling (leaving the page). */
  stop(): void {
    this.source?.close();
    this.source = null;
    this.stopPolling();
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
  }

  private setState(state: State): void {
    this.status.textContent = STATE_WORDS[state];
    this.status.dataset.state = state;
  }

  private openStream(): void {
    const id = this.id!;
    const es = new EventSource(api.eventsUrl(id));
    this.source = es;
    es.addEventListener("open", () => {
      this.stopPolling();
      if (this.detail.dataset.kind === "connection") this.setDetail("");
    });
    es.addEventListener("state", (e) => {
      const data = parse<{ state: State; attempt?: number; reason?: string }>(e);
      if (!data || this.finished) return;
      this.setState(data.state);
      if (data.state === "queued" && data.reason) this.setDetail(`Back in the queue: ${data.reason}`);
      else if (data.state === "running" && data.attempt && data.attempt > 1) this.setDetail(`Attempt ${data.attempt}`);
      else this.setDetail("");
    });
    es.addEventListener("log", (e) => {
      const data = parse<{ stream?: string; line?: string; text?: string }>(e);
      if (!data) return;
      this.appendLog(data.text ?? `[${data.stream ?? "log"}] ${data.line ?? ""}`);
    });
    es.addEventListener("result", (e) => {
      // The stream ends after the result; close it before the browser reconnects.
      es.close();
      const result = parse<GradeResult>(e);
      if (result) this.showResult(result);
      else this.startPolling();
    });
    es.addEventListener("error", () => {
      if (this.finished || this.source !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (a stream cap, the server busy) or broken for good: poll instead.
        this.source = null;
        this.setDetail("The live log is not available; checking for the result every second.", "connection");
      } else {
        this.setDetail("Connection lost: reconnecting…", "connection");
      }
      this.startPolling();
    });
  }

  private setDetail(text: string, kind = ""): void {
    this.detail.textContent = text;
    this.detail.dataset.kind = kind;
  }

  private startPolling(): void {
    if (this.pollTimer !== null || this.finished) return;
    const tick = async () => {
      this.pollTimer = null;
      if (this.finished || !this.id) return;
      const id = this.id;
      try {
        const sub = await api.submission(id);
        if (this.id !== id || this.finished) return;
        if (sub.state === "finished" && sub.result) {
          this.source?.close();
          this.source = null;
          this.showResult(sub.result);
          return;
        }
        this.setState(sub.state);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          this.setDetail("This submission no longer exists.");
          return;
        }
        // Network down or server restarting: keep trying.
      }
      if (!this.finished && this.id === id) this.pollTimer = window.setTimeout(tick, POLL_MS);
    };
    this.pollTimer = window.setTimeout(tick, POLL_MS);
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) window.clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private showResult(result: GradeResult): void {
    if (this.finished) return;
    this.finished = true;
    this.stopPolling();
    this.flushLog();
    this.setState("finished");
    this.setDetail("");
    // Once finished, the log kept with the result replaces the live one: it is the
    // record (redacted, capped, with Gauntlet's own notes), and the page then reads the
    // same whether the learner watched the run, reloaded, or came back later.
    if (result.log) {
      this.clearLog();
      this.appendLog(result.log.replace(/\n$/, ""), true);
    }
    const el = renderResult(result);
    this.resultBox.replaceChildren(el);
    performance.mark("gauntlet:result");
    el.dataset.resultRenderedAt = String(performance.timeOrigin + performance.now());
    this.opts.onResult?.(result);
  }

  private clearLog(): void {
    this.pending = [];
    this.chunks = [];
    this.log.replaceChildren();
    this.logChars = 0;
    this.logLines = 0;
    this.dropped = 0;
    this.droppedNote = null;
    this.logRegion.dataset.empty = "";
    this.log.textContent = "";
  }

  private appendLog(text: string, now = false): void {
    this.pending.push(text + "\n");
    this.logLines += 1;
    if (now) this.flushLog();
    else if (this.frame === null) this.frame = requestAnimationFrame(() => this.flushLog());
  }

  private flushLog(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    if (!this.pending.length) return;
    let text = this.pending.join("");
    this.pending = [];
    if (text.length > LOG_CAP) {
      this.dropped += text.length - LOG_CAP;
      text = text.slice(-LOG_CAP);
    }
    // Follow the end only if the reader is there already (not scrolled up to read).
    const atEnd = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 24;
    const node = document.createTextNode(text);
    this.log.appendChild(node);
    this.chunks.push(node);
    this.logChars += text.length;
    delete this.logRegion.dataset.empty;
    while (this.logChars > LOG_CAP && this.chunks.length > 1) {
      const old = this.chunks.shift()!;
      this.logChars -= old.data.length;
      this.dropped += old.data.length;
      old.remove();
    }
    if (this.dropped) {
      const note = `[… ${Math.round(this.dropped / 1024)} KiB of earlier output not shown here]\n`;
      if (!this.droppedNote) {
        this.droppedNote = document.createTextNode(note);
        this.log.prepend(this.droppedNote);
      } else {
        this.droppedNote.data = note;
      }
    }
    if (atEnd) this.log.scrollTop = this.log.scrollHeight;
  }
}

function parse<T>(e: Event): T | null {
  try {
    return JSON.parse((e as MessageEvent<string>).data) as T;
  } catch {
    return null;
  }
}
