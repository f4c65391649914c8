// The Submit button and the alert under it: runs a submission and turns its refusals
// into something the learner can act on (wait N s, pick another name, fix the file
// the message names).

import { ApiError, type State } from "./api";
import { Alert, describe } from "./alert";
import { h } from "./dom";
import { displayName, openNameDialog, replaceGeneratedName } from "./name";

export class Submitter {
  readonly button = h("button", { type: "button", class: "button-primary", "aria-disabled": "false" }, "Submit");
  readonly alert = new Alert();
  private busy = false;
  private blocked = false;

  constructor(private readonly send: () => Promise<{ id: string; state: State } | null>, private readonly onAccepted: (id: string) => void) {
    this.button.addEventListener("click", () => void this.submit());
  }

  // aria-disabled rather than `disabled`: a disabled button loses focus, and a
  // keyboard user who pressed Submit would be thrown back to the top of the page.
  private sync(): void {
    this.button.setAttribute("aria-disabled", String(this.busy || this.blocked));
    this.button.setAttribute("aria-busy", String(this.busy));
  }

  async submit(): Promise<void> {
    if (this.busy || this.blocked) return;
    this.busy = true;
    this.sync();
    try {
      let accepted;
      try {
        accepted = await this.send();
      } catch (err) {
        // A made-up name someone else already holds: draw another and send again,
        // once. Only a name the learner chose is worth asking them about.
        if (!(err instanceof ApiError && err.code === "display_name_taken" && replaceGeneratedName())) throw err;
        accepted = await this.send();
      }
      if (accepted) {
        this.alert.clear();
        this.onAccepted(accepted.id);
      }
    } catch (err) {
      this.refused(err);
    } finally {
      this.busy = false;
      this.sync();
    }
  }

  /** Shows a problem found before sending (an empty archive field, a file too big). */
  problem(message: string): void {
    this.alert.show(message);
  }

  private block(seconds: number, before: string, after: string, ...extra: string[]): void {
    this.blocked = true;
    this.sync();
    this.alert.countdown(
      seconds,
      before,
      after,
      () => {
        this.blocked = false;
        this.sync();
        this.alert.show("You can submit again now.");
      },
      ...extra,
    );
  }

  private refused(err: unknown): void {
    if (!(err instanceof ApiError)) {
      const { message } = describe(err);
      this.alert.show(message);
      return;
    }
    const wait = err.retryAfter ?? (err.status === 429 ? 10 : 5);
    switch (err.status) {
      case 429:
        if (err.code === "too_many_streams") {
          this.alert.show(err.message);
          return;
        }
        this.block(
          wait,
          "Too many submissions: you can submit again in ",
          " s",
          ...(err.code === "too_many_active_submissions" ? [err.message] : []),
        );
        return;
      case 503:
        if (err.code === "busy") this.block(wait, "Busy, retry in ", " s");
        else this.block(wait, `${err.message} Retry in `, " s");
        return;
      case 409:
        if (err.code === "display_name_taken") {
          const msg = `The name “${displayName()}” belongs to someone else: choose another name, then submit again.`;
          this.alert.show(msg);
          openNameDialog(msg, this.button);
          return;
        }
        break;
      case 400:
        if (err.code === "invalid_display_name") {
          this.alert.show(err.message);
          openNameDialog(err.message, this.button);
          return;
        }
        break;
    }
    // 400 invalid_submission names the file; 413 says which limit: verbatim.
    this.alert.show(err.message, ...err.details);
  }
}
