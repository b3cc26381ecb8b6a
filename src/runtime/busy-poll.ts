/**
 * Busy polling of the process's event loop around calls, the way a kernel busy-polls a socket
 * (SO_BUSY_POLL) or KVM polls before halting a vCPU.
 *
 * Why: a process asleep in epoll_wait is woken by the kernel when a frame arrives, and on a virtual
 * machine waking a halted vCPU takes an inter-processor interrupt through the hypervisor. On the 2-vCPU
 * VM this project is measured on, a loopback round trip between two Node processes costs ~100 µs that
 * way, ~28 µs when the caller keeps its loop turning and ~11 µs when both do (docs/runtime.md, "Busy
 * polling"): a process that polls is never asleep, so a frame reaches it without a wake-up.
 *
 * When (all bounded, all off with both windows at 0):
 * - A caller marks each frame that expects an answer (`Net.send(..., awaitsReply)`). While answers are
 *   owed, the loop keeps turning (a pending setImmediate keeps libuv's poll timeout at zero) for at most
 *   `callWindowUs` after the latest network event. When a window passes without any event, what is owed
 *   is forgotten (the answers are late or lost; the RPC layer times them out): a lost answer costs one
 *   window of CPU, once.
 * - A process that just answered keeps turning for `answerWindowUs`: a caller that calls in a loop sends
 *   the next call within a few tens of µs. Short, so processes that answer now and then stay asleep.
 * - A spin that finds the process was off its CPU for more than `preemptedUs` (more runnable threads
 *   than CPUs: several nodes on a small host) stops and forgets what is owed, and none starts for
 *   `quietAfterPreemptionMs`: polling would then take the CPU from the very process whose answer is awaited.
 * An idle node never spins.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';

export interface BusyPollConfig {
  /** Longest spin while answers are owed, after the latest event; 0: callers never spin. */
  readonly callWindowUs: number;
  /** Spin after sending an answer; 0: answering processes never spin. */
  readonly answerWindowUs: number;
}

/**
 * Defaults from the measurements in docs/runtime.md: the call window outlasts a cold cross-process call
 * on the measured VM (~300-500 µs); the answer window covers a tight caller's turnaround (~20-40 µs) with
 * room to spare, and no more.
 */
export const busyPollDefaults: BusyPollConfig = Object.freeze({ callWindowUs: 1_000, answerWindowUs: 100 });
/** Upper bound on either window: a longer spin is CPU burnt for nothing. */
export const busyPollWindowUsMax = 10_000;
/**
 * Turns a spin may take without a network event, whatever the clock says: ~15 ms at ~0.7 µs a turn, above
 * any window; a bound if the clock stands still (a test's fake timers drive setImmediate, freeze `performance`).
 */
const quietTurnsMax = 20_000;
/** Off-CPU time since the last check that means the process was descheduled mid-spin. */
const preemptedUs = 500;
/**
 * Least wall time between two readings of the process's CPU time while spinning, unless a turn came late
 * (a gap over `preemptedUs`, where a preemption would show). Reading is a system call; a warm spin turns
 * ~1,400 times a millisecond, and a preemption shorter than `preemptedUs` does not count anyway, so
 * reading more often than every half of it learns nothing.
 */
const cpuCheckIntervalMs = preemptedUs / 2 / 1000;
const quietAfterPreemptionMs = 10;
export const busyPollEnvVars = Object.freeze({ callWindowUs: 'DISTRIBUTION_BUSY_POLL_CALL_US', answerWindowUs: 'DISTRIBUTION_BUSY_POLL_ANSWER_US' });

export interface BusyPollStats {
  /** Spins begun (none was running). */
  spins: number;
  /** Loop turns spent polling. */
  turns: number;
  /** Call windows that ran out with answers still owed. */
  expired: number;
  /** Spins stopped because the process had lost its CPU. */
  preempted: number;
}

export class BusyPoller {
  private callWindowMs = 0;
  private answerWindowMs = 0;
  private owed = 0;
  private lastEventMs = 0;
  private answerUntilMs = 0;
  private quietUntilMs = 0;
  private spinning = false;
  /** Wall and CPU time at the last preemption check, and when the last turn ran. */
  private checkMs = 0;
  private checkCpuUs = 0;
  private lastTurnMs = 0;
  private turnsSinceEvent = 0;
  readonly stats: BusyPollStats = { spins: 0, turns: 0, expired: 0, preempted: 0 };

  constructor(config: BusyPollConfig = busyPollDefaults) {
    this.configure(config);
  }

  configure(config: BusyPollConfig): void {
    this.callWindowMs = checkWindowUs(config.callWindowUs, 'callWindowUs') / 1000;
    this.answerWindowMs = checkWindowUs(config.answerWindowUs, 'answerWindowUs') / 1000;
  }

  get config(): BusyPollConfig {
    return { callWindowUs: this.callWindowMs * 1000, answerWindowUs: this.answerWindowMs * 1000 };
  }

  get owedAnswers(): number {
    return this.owed;
  }

  get isSpinning(): boolean {
    return this.spinning;
  }

  /** A frame that expects an answer went out. */
  sentCall(): void {
    this.owed++;
    this.lastEventMs = performance.now();
    this.turnsSinceEvent = 0;
    if (this.callWindowMs > 0) this.spin(this.lastEventMs);
  }

  /** A frame that expects none went out (an answer, usually). */
  sentAnswer(): void {
    if (this.answerWindowMs === 0) return;
    const nowMs = performance.now();
    this.answerUntilMs = nowMs + this.answerWindowMs;
    this.turnsSinceEvent = 0;
    this.spin(nowMs);
  }

  /** `frames` came in; up to that many of them may be answers owed. */
  received(frames: number): void {
    this.owed = Math.max(0, this.owed - frames);
    this.lastEventMs = performance.now();
    this.turnsSinceEvent = 0;
  }

  private spin(nowMs: number): void {
    if (this.spinning || nowMs < this.quietUntilMs) return;
    this.spinning = true;
    this.stats.spins++;
    this.lastTurnMs = nowMs;
    this.checkMs = nowMs;
    this.checkCpuUs = cpuUs();
    setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    this.stats.turns++;
    const quietTooLong = ++this.turnsSinceEvent > quietTurnsMax;
    const nowMs = performance.now();
    if (this.preempted(nowMs)) {
      this.stats.preempted++;
      this.quietUntilMs = nowMs + quietAfterPreemptionMs;
      this.owed = 0; // a spin that stops forgets what is owed; the next call starts afresh
      this.spinning = false;
      return;
    }
    if (this.owed > 0 && (nowMs - this.lastEventMs > this.callWindowMs || quietTooLong)) {
      this.stats.expired++;
      this.owed = 0;
    }
    const awaiting = this.owed > 0 && this.callWindowMs > 0;
    if (awaiting || (nowMs < this.answerUntilMs && !quietTooLong)) setImmediate(this.turn);
    else this.spinning = false;
  };

  /**
   * Whether the process spent over `preemptedUs` off its CPU since the last check (a spinning loop never
   * blocks, so the wall time it did not run is time it was descheduled). Checked after a late turn, else
   * at most every `cpuCheckIntervalMs`.
   */
  private preempted(nowMs: number): boolean {
    const turnCameLate = nowMs - this.lastTurnMs > preemptedUs / 1000;
    this.lastTurnMs = nowMs;
    if (!turnCameLate && nowMs - this.checkMs < cpuCheckIntervalMs) return false;
    const nowCpuUs = cpuUs();
    const offCpuUs = (nowMs - this.checkMs) * 1000 - (nowCpuUs - this.checkCpuUs);
    this.checkMs = nowMs;
    this.checkCpuUs = nowCpuUs;
    return offCpuUs > preemptedUs;
  }
}

/** CPU time of the whole process (all threads), µs. */
function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

function checkWindowUs(windowUs: number, name: string): number {
  assert(Number.isFinite(windowUs) && windowUs >= 0 && windowUs <= busyPollWindowUsMax, `busy poll ${name} must be 0..${busyPollWindowUsMax} µs`);
  return windowUs;
}

/** The windows set by `busyPollEnvVars`, else the defaults; a malformed value is an error, not a guess. */
export function busyPollConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BusyPollConfig {
  const read = (name: keyof BusyPollConfig): number => {
    const text = env[busyPollEnvVars[name]];
    if (text === undefined || text.trim() === '') return busyPollDefaults[name];
    const windowUs = Number(text);
    if (!Number.isFinite(windowUs) || windowUs < 0 || windowUs > busyPollWindowUsMax) {
      throw new DistError('E_CONFIG', `${busyPollEnvVars[name]}=${JSON.stringify(text)}: expected 0..${busyPollWindowUsMax} (µs)`, { field: busyPollEnvVars[name] });
    }
    return windowUs;
  };
  return { callWindowUs: read('callWindowUs'), answerWindowUs: read('answerWindowUs') };
}

/** One per process: the event loop it keeps turning is the process's. */
export const processBusyPoller = new BusyPoller(busyPollConfigFromEnv());
