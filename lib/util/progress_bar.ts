/**
 * A progress indicator for long work (hub downloads, graph builds on first load in the CLI,
 * benchmark runs): a bar redrawn in place on a TTY, plain lines otherwise.
 *
 * @module
 */

/** Where a {@linkcode ProgressBar} writes, and whether that is a terminal. */
export interface ProgressSink {
  /** Writes text (no newline added). */
  write(text: string): Promise<void> | void;
  /** True for a terminal: the bar is redrawn in place with `\r`. */
  readonly isTerminal: boolean;
}

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Number of steps; `0` (default) for work of unknown length (shows elapsed time only). */
  total?: number;
  /** Width of the bar in characters on a TTY (default 28). */
  width?: number;
  /** Clock in ms (default `performance.now`), injectable for tests. */
  now?: () => number;
}

/**
 * Progress of one piece of long work. On a TTY: `label [#####.....] 3/10 1.2s`
 * redrawn in place; otherwise one line when it starts and one when it ends
 * (plus at most one line per 10% for counted work), so logs stay readable.
 *
 * @example Counting benchmark runs to a non-TTY sink
 * ```ts
 * import { ProgressBar } from "@specdec/specdec/cli";
 * const lines: string[] = [];
 * const bar = new ProgressBar("runs", { write: (t) => void lines.push(t), isTerminal: false }, { total: 2 });
 * await bar.start();
 * await bar.tick();
 * await bar.tick();
 * await bar.done();
 * if (!lines.join("").includes("runs")) throw new Error("unexpected");
 * ```
 */
export class ProgressBar {
  readonly #label: string;
  readonly #sink: ProgressSink;
  readonly #total: number;
  readonly #width: number;
  readonly #now: () => number;
  #count = 0;
  #started = 0;
  #lastDecile = 0;
  #detail = "";
  #finished = false;

  /**
   * Creates an indicator; nothing is drawn until {@linkcode ProgressBar.start}.
   *
   * @param label What is in progress (e.g. `"building target graph"`).
   * @param sink Where to write (usually stderr).
   * @param options Total steps, bar width, clock.
   */
  constructor(label: string, sink: ProgressSink, options: ProgressBarOptions = {}) {
    const total = options.total ?? 0;
    if (!Number.isInteger(total) || total < 0) {
      throw new RangeError(`total must be a non-negative integer, got ${total}`);
    }
    this.#label = label;
    this.#sink = sink;
    this.#total = total;
    this.#width = options.width ?? 28;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Steps done so far. */
  get count(): number {
    return this.#count;
  }

  /** Starts the clock and draws the empty bar (or prints the start line). */
  async start(): Promise<void> {
    this.#started = this.#now();
    if (this.#sink.isTerminal) await this.#draw();
    else await this.#sink.write(`${this.#label}...\n`);
  }

  /**
   * Advances by `n` steps.
   *
   * @param n Steps completed (default 1).
   * @param detail Short text shown after the bar (e.g. the current run's name).
   */
  async tick(n = 1, detail?: string): Promise<void> {
    this.#count = Math.min(this.#total > 0 ? this.#total : Infinity, this.#count + n);
    if (detail !== undefined) this.#detail = detail;
    if (this.#sink.isTerminal) {
      await this.#draw();
    } else if (this.#total > 0) {
      const decile = Math.floor((10 * this.#count) / this.#total);
      if (decile > this.#lastDecile && this.#count < this.#total) {
        this.#lastDecile = decile;
        const extra = this.#detail.length > 0 ? ` ${this.#detail}` : "";
        await this.#sink.write(`${this.#label}: ${this.#count}/${this.#total}${extra}\n`);
      }
    }
  }

  /** Redraws the bar (TTY only) so the elapsed time moves during long steps. */
  async refresh(): Promise<void> {
    if (this.#sink.isTerminal && !this.#finished) await this.#draw();
  }

  /**
   * Ends the work: the final state stays on screen, followed by a newline.
   *
   * @param summary Optional text printed after the elapsed time.
   */
  async done(summary?: string): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    const secs = ((this.#now() - this.#started) / 1000).toFixed(1);
    const tail = summary !== undefined ? ` ${summary}` : "";
    if (this.#sink.isTerminal) {
      if (this.#total > 0) this.#count = this.#total;
      this.#detail = "";
      await this.#draw();
      await this.#sink.write(`${tail}\n`);
    } else {
      await this.#sink.write(`${this.#label}: done in ${secs}s${tail}\n`);
    }
  }

  /**
   * Runs `work` while showing this indicator, redrawing the elapsed time every
   * 250 ms on a TTY.
   *
   * @typeParam T The result of the work.
   * @param work The long operation.
   * @returns What `work` returned.
   */
  async wrap<T>(work: () => Promise<T>): Promise<T> {
    await this.start();
    const timer = this.#sink.isTerminal ? setInterval(() => void this.refresh(), 250) : undefined;
    try {
      const result = await work();
      clearInterval(timer);
      await this.done();
      return result;
    } catch (err) {
      clearInterval(timer);
      this.#finished = true;
      if (this.#sink.isTerminal) await this.#sink.write("\n");
      throw err;
    }
  }

  async #draw(): Promise<void> {
    const secs = ((this.#now() - this.#started) / 1000).toFixed(1);
    let line: string;
    if (this.#total > 0) {
      const filled = Math.round((this.#width * this.#count) / this.#total);
      const bar = "#".repeat(filled) + ".".repeat(this.#width - filled);
      line = `${this.#label} [${bar}] ${this.#count}/${this.#total} ${secs}s`;
    } else {
      const spin = "|/-\\"[Math.floor(Number(secs) * 4) % 4] ?? "|";
      line = `${this.#label} ${spin} ${secs}s`;
    }
    if (this.#detail.length > 0) line += ` ${this.#detail}`;
    await this.#sink.write(`\r\x1b[2K${line}`);
  }
}
