import { expect } from 'chai';
import { BusyPoller, busyPollConfigFromEnv, busyPollDefaults, busyPollEnvVars } from '../../src/runtime/busy-poll.js';

/** Lets the event loop run: immediates first, then a timer `ms` later. */
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const callUs = 2_000;
const answerUs = 500;

describe('runtime: busy polling around calls', () => {
  it('an idle process never spins, nor one that only receives', async () => {
    const poller = new BusyPoller({ callWindowUs: callUs, answerWindowUs: answerUs });
    poller.received(3);
    await pause(5);
    expect(poller.stats.spins).to.equal(0);
    expect(poller.isSpinning).to.equal(false);
  });

  it('a call spins the loop until its answer arrives, then stops', async () => {
    const poller = new BusyPoller({ callWindowUs: 10_000, answerWindowUs: 0 });
    poller.sentCall();
    expect(poller.isSpinning).to.equal(true);
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(poller.stats.turns).to.be.greaterThan(0);
    poller.received(1);
    expect(poller.owedAnswers).to.equal(0);
    await pause(2);
    expect(poller.isSpinning).to.equal(false);
    expect(poller.stats.expired).to.equal(0);
  });

  it('an answer that never comes costs one window, then is forgotten', async () => {
    const poller = new BusyPoller({ callWindowUs: callUs, answerWindowUs: 0 });
    poller.sentCall();
    poller.sentCall();
    await pause(20);
    expect(poller.isSpinning).to.equal(false);
    expect(poller.owedAnswers).to.equal(0);
    // A preempted spin (a loaded test machine) also stops it; either way, it stopped by itself.
    expect(poller.stats.expired + poller.stats.preempted).to.equal(1);
  });

  it('answering keeps the loop turning for the answer window only', async () => {
    const poller = new BusyPoller({ callWindowUs: callUs, answerWindowUs: answerUs });
    poller.sentAnswer();
    expect(poller.isSpinning).to.equal(true);
    await pause(10);
    expect(poller.isSpinning).to.equal(false);
    expect(poller.owedAnswers).to.equal(0);
  });

  it('a clock that stands still (fake timers) cannot keep it spinning', async () => {
    const realNow = performance.now.bind(performance);
    const poller = new BusyPoller({ callWindowUs: callUs, answerWindowUs: answerUs });
    performance.now = () => 0; // the module reads the same performance object
    try {
      poller.sentCall();
      poller.sentAnswer();
      await new Promise<void>((resolve, reject) => {
        const startMs = realNow();
        const check = (): void => {
          if (!poller.isSpinning) return resolve();
          if (realNow() - startMs > 5_000) return reject(new Error('still spinning'));
          setTimeout(check, 1);
        };
        check();
      });
    } finally {
      performance.now = realNow;
    }
    expect(poller.owedAnswers).to.equal(0);
    expect(poller.stats.expired).to.equal(1);
  });

  it('both windows at 0 turn it off', async () => {
    const poller = new BusyPoller({ callWindowUs: 0, answerWindowUs: 0 });
    poller.sentCall();
    poller.sentAnswer();
    expect(poller.isSpinning).to.equal(false);
    await pause(2);
    expect(poller.stats.spins).to.equal(0);
  });

  it('a spin that finds the process off its CPU stops, forgets what is owed and stays quiet a while', async () => {
    const realCpuUsage = process.cpuUsage;
    const poller = new BusyPoller({ callWindowUs: 10_000, answerWindowUs: 0 });
    try {
      poller.sentCall();
      await new Promise<void>((resolve) => setImmediate(resolve));
      // A descheduled process: the wall clock runs for 2 ms between two turns, its CPU time does not.
      const frozen = realCpuUsage.call(process);
      process.cpuUsage = (() => frozen) as typeof process.cpuUsage;
      const blockedFromMs = performance.now();
      while (performance.now() - blockedFromMs < 2);
      await pause(5);
      expect(poller.stats).to.include({ preempted: 1 });
      expect(poller.isSpinning).to.equal(false);
      expect(poller.owedAnswers).to.equal(0);
      poller.sentCall(); // within the quiet time: no new spin
      expect(poller.isSpinning).to.equal(false);
      expect(poller.stats.spins).to.equal(1);
    } finally {
      process.cpuUsage = realCpuUsage;
    }
  });

  it('reads the CPU time at most every quarter millisecond, however fast the loop turns', async () => {
    const realCpuUsage = process.cpuUsage;
    let reads = 0;
    process.cpuUsage = ((previous?: NodeJS.CpuUsage) => {
      reads++;
      return realCpuUsage.call(process, previous);
    }) as typeof process.cpuUsage;
    const poller = new BusyPoller({ callWindowUs: 10_000, answerWindowUs: 0 });
    try {
      poller.sentCall();
      const startMs = performance.now();
      await pause(8);
      poller.received(1);
      const elapsedMs = performance.now() - startMs;
      expect(reads).to.be.at.most(Math.ceil(elapsedMs / 0.25) + 2);
    } finally {
      process.cpuUsage = realCpuUsage;
    }
  });

  it('windows come from the environment; malformed or out-of-range values are refused by name', () => {
    expect(busyPollConfigFromEnv({})).to.deep.equal(busyPollDefaults);
    expect(busyPollConfigFromEnv({ [busyPollEnvVars.callWindowUs]: '250', [busyPollEnvVars.answerWindowUs]: '0' }))
      .to.deep.equal({ callWindowUs: 250, answerWindowUs: 0 });
    expect(() => busyPollConfigFromEnv({ [busyPollEnvVars.callWindowUs]: 'fast' })).to.throw(busyPollEnvVars.callWindowUs).with.property('code', 'E_CONFIG');
    expect(() => busyPollConfigFromEnv({ [busyPollEnvVars.answerWindowUs]: '-1' })).to.throw(busyPollEnvVars.answerWindowUs);
    expect(() => busyPollConfigFromEnv({ [busyPollEnvVars.answerWindowUs]: '1e9' })).to.throw('0..');
    expect(() => new BusyPoller({ callWindowUs: Number.NaN, answerWindowUs: 0 })).to.throw('callWindowUs');
  });
});
