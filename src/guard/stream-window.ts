/**
 * A streamed reply screened in windows: text arrives in deltas, the text so far is screened every
 * `step` characters (every delta when screening is cheap), and only text up to `window` characters
 * before the end of what was screened clean is released. A match no longer than the window is thus
 * seen whole before any of it reaches the client. `finish` screens the rest and releases it.
 */
export class WindowedText {
  text = "";
  #sent = 0;
  #screened = 0;

  constructor(
    readonly window: number,
    readonly step: number,
  ) {}

  push(delta: string): void {
    this.text += delta;
  }

  /** Whether enough unscreened text has come in to screen again. */
  get due(): boolean {
    return this.text.length - this.#screened >= this.step;
  }

  /** The text up to `length` screened clean: returns what may now be released (possibly ""). */
  cleared(length: number, final = false): string {
    this.#screened = length;
    const upTo = final ? length : Math.max(this.#sent, length - this.window);
    const out = this.text.slice(this.#sent, upTo);
    this.#sent = upTo;
    return out;
  }

  /** What the client has been sent. */
  get sent(): string {
    return this.text.slice(0, this.#sent);
  }
}
