/**
 * `Net` over websockets: one persistent connection per pair of nodes, carrying batches of frames
 * (see frame.ts) in both directions.
 *
 * - Who dials: whoever has something to send and no connection. When both dial at once, the connection
 *   dialed by the lower node id wins: the higher node's dial is refused with 409 by the lower node, and the
 *   higher node drops its own pending dial when the lower node's arrives. An inbound dial otherwise
 *   replaces an existing connection (the peer dials only when it sees none, e.g. after a restart).
 * - Coalescing: frames sent in one tick are queued per peer and written as one ws message from a
 *   microtask; under load a batch holds thousands of frames.
 * - Backpressure and datagram semantics: frames wait in a bounded per-peer queue while the peer is
 *   connecting, down, or its socket is backed up; beyond the bound they are dropped and counted. A peer
 *   that stays unreachable for `reconnectAttemptsMax` dials loses its queue.
 * - Hostile input: a malformed frame, a frame claiming another sender, a text message or an oversized
 *   message closes that one connection with a logged reason; handler exceptions are caught and counted.
 *   Nothing arriving from the network can throw out of this module.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { MessageHandler, Net, NodeId } from '../env/index.js';
import { assert } from '../lib/assert.js';
import { DistError } from '../lib/errors.js';
import { connectionToken, TokenVerifier } from './auth.js';
import { processBusyPoller } from './busy-poll.js';
import { formatAddress, isValidNodeId, parseAddress, type Address, type Directory, type NetLimits } from './config.js';
import { decodeBatch, FrameEncoder, HeaderCache, type DecodedHeader } from './frame.js';

const debugNet = createDebug('distribution:net');

const wsPath = '/distribution/1';
const headerFrom = 'x-distribution-from';
const headerTo = 'x-distribution-to';
const headerAuth = 'x-distribution-auth';
const headerAddress = 'x-distribution-address';
/** How long a closing connection may take to say goodbye before it is destroyed. */
const closeGraceMs = 250;
/** A connection silent for this many heartbeats in a row is dropped; two, so one late timer (a busy event
 * loop runs timers before it reads the pong that is already waiting) never drops a healthy peer. */
const silentBeatsMax = 2;
/**
 * While a batch is being handled, what it produced for its sender so far leaves after this many frames,
 * then after twice as many, and so on: the sender works on the first answers while we handle the rest, so
 * both processes are busy at once instead of taking turns (50 calls in flight between two nodes: ~130k ->
 * ~230k calls/s here). Doubling keeps a batch of n frames to about log2(n / 16) extra writes. 16 rather
 * than 8: with 8 the two sides settle into answering 8 frames with 8 (one writev per 8 calls, a third of
 * the caller's CPU in a profile); sustained 50-in-flight traffic ran 5-10% faster with 16 (3 alternating
 * runs each, 287-316k vs 297-373k calls/s).
 */
const earlyFlushFrames = 16;
const binarySendOptions = Object.freeze({ binary: true });
/** Addresses advertised by dialers are learned only while the directory is smaller than this. */
const learnedAddressesDirectoryMax = 10_000;
/** Room for ws framing and our frame header on top of the largest payload. */
const wireOverheadBytes = 64 * 1024;

export interface NetStats {
  framesSent: number;
  framesReceived: number;
  batchesSent: number;
  bytesSent: number;
  dropsQueueFull: number;
  dropsUnknownPeer: number;
  dropsPeerDown: number;
  dropsNoListener: number;
  badFrames: number;
  handlerErrors: number;
  connectionsAccepted: number;
  connectionsRefused: number;
  dials: number;
  dialFailures: number;
}

export interface WsNetOptions {
  readonly nodeId: NodeId;
  readonly limits: NetLimits;
  readonly directory: Directory;
  readonly secret: string | undefined;
  /** Told when a peer's connection is installed (`true`) or lost with none to replace it (`false`). */
  readonly onPeerChange?: (peer: NodeId, connected: boolean) => void;
  /** Unref every socket, so open connections alone never keep the process alive (the course facade:
   * a test process must end once its own handles are gone). */
  readonly unrefSockets?: boolean;
}

export type Direction = 'in' | 'out';

interface Connection {
  readonly ws: WebSocket;
  readonly peerId: NodeId;
  readonly direction: Direction;
  readonly headers: HeaderCache;
  /** Heard from since the last heartbeat (a message or a pong). */
  heard: boolean;
  /** Heartbeats in a row without hearing anything. */
  silentBeats: number;
}

interface Peer {
  readonly id: NodeId;
  conn: Connection | undefined;
  dial: WebSocket | undefined;
  /** Encoded frames not yet handed to a socket. */
  queue: Buffer[];
  queueBytes: number;
  flushScheduled: boolean;
  /** The microtask that flushes this peer: made once, not a closure per flush (a flush per call under
   * sequential traffic). */
  readonly flushTask: () => void;
  /** Set while the socket is over `socketBufferedBytesHigh`; the next send callback resumes flushing. */
  waitingDrain: boolean;
  dialFailures: number;
  reconnectTimer: NodeJS.Timeout | undefined;
}

export class WsNet implements Net {
  readonly payloadBytesMax: number;
  readonly stats: NetStats = {
    framesSent: 0, framesReceived: 0, batchesSent: 0, bytesSent: 0, dropsQueueFull: 0, dropsUnknownPeer: 0,
    dropsPeerDown: 0, dropsNoListener: 0, badFrames: 0, handlerErrors: 0, connectionsAccepted: 0,
    connectionsRefused: 0, dials: 0, dialFailures: 0,
  };
  private readonly nodeId: NodeId;
  private readonly limits: NetLimits;
  private readonly directory: Directory;
  private readonly secret: string | undefined;
  private readonly verifier: TokenVerifier | undefined;
  private readonly encoder: FrameEncoder;
  private readonly handlers = new Map<string, MessageHandler>();
  private readonly peers = new Map<NodeId, Peer>();
  /** Our own server (`start`), or one adopted from its owner (`adopt`); undefined until then. */
  private server: http.Server | undefined;
  private ownsServer = false;
  private readonly wss: WebSocketServer;
  /** Callers of `connect` waiting for a peer's connection, by peer. */
  private readonly connectWaiters = new Map<NodeId, ((connected: boolean) => void)[]>();
  private readonly onPeerChange: ((peer: NodeId, connected: boolean) => void) | undefined;
  private readonly unrefSockets: boolean;
  private readonly wirePayloadBytesMax: number;
  private boundAddress: Address | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: WsNetOptions) {
    assert(isValidNodeId(options.nodeId), 'WsNet: invalid node id');
    this.nodeId = options.nodeId;
    this.limits = options.limits;
    this.directory = options.directory;
    this.secret = options.secret;
    this.onPeerChange = options.onPeerChange;
    this.unrefSockets = options.unrefSockets === true;
    this.verifier = options.secret === undefined ? undefined : new TokenVerifier(options.secret, options.nodeId);
    this.payloadBytesMax = options.limits.payloadBytesMax;
    this.encoder = new FrameEncoder(this.nodeId, options.limits.headerBytesMax);
    this.wirePayloadBytesMax = Math.max(this.limits.batchBytesMax, this.limits.payloadBytesMax + this.limits.headerBytesMax) + wireOverheadBytes;
    this.wss = new WebSocketServer({
      noServer: true, maxPayload: this.wirePayloadBytesMax, perMessageDeflate: false, clientTracking: false, skipUTF8Validation: true,
    });
  }

  /** Binds and starts accepting connections; returns the bound address (port 0 picks an ephemeral one). */
  start(listen: Address): Promise<Address> {
    assert(this.server === undefined, 'WsNet.start called twice');
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { connection: 'close' }).end();
    });
    // A garbage HTTP request must not reach the default handler that might throw; just drop the socket.
    server.on('clientError', (_error, socket: Duplex) => socket.destroy());
    this.server = server;
    this.ownsServer = true;
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(new DistError('E_NET_LISTEN', `cannot listen on ${formatAddress(listen)}: ${error.message}`, { ...listen }, { cause: error }));
      server.once('error', onError);
      server.listen(listen.port, listen.host, () => {
        server.off('error', onError);
        server.on('error', (error) => debugNet('%s server error: %s', this.nodeId, error.message));
        const bound = server.address();
        assert(bound !== null && typeof bound === 'object', 'server.address() after listen');
        this.accept(server, { host: listen.host, port: bound.port });
        resolve({ host: listen.host, port: bound.port });
      });
    });
  }

  /**
   * Accepts connections on a server its owner already listens with (the course facade's HTTP server:
   * course PUTs and this transport share one port). Closing this transport leaves that server alone.
   */
  adopt(server: http.Server, bound: Address): void {
    assert(this.server === undefined, 'WsNet.adopt: already serving');
    this.server = server;
    this.accept(server, bound);
  }

  private accept(server: http.Server, bound: Address): void {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.boundAddress = bound;
    this.directory.set(this.nodeId, bound);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.limits.heartbeatIntervalMs);
    this.heartbeatTimer.unref(); // liveness checking alone must not keep a process alive
  }

  /**
   * Resolves true once a connection with `to` is open (dialing one if needed), false when the dial
   * fails: how a caller learns whether a peer speaks this transport at all.
   */
  connect(to: NodeId): Promise<boolean> {
    if (this.closed || to === this.nodeId || !this.directory.has(to)) return Promise.resolve(false);
    const peer = this.peers.get(to) ?? this.addPeer(to);
    if (peer.conn !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiters = this.connectWaiters.get(to);
      if (waiters === undefined) this.connectWaiters.set(to, [resolve]);
      else waiters.push(resolve);
      this.ensureDial(peer);
    });
  }

  /** True while a connection with `to` is open. */
  isConnected(to: NodeId): boolean {
    return this.peers.get(to)?.conn !== undefined;
  }

  private settleConnectWaiters(peer: NodeId, connected: boolean): void {
    const waiters = this.connectWaiters.get(peer);
    if (waiters === undefined) return;
    this.connectWaiters.delete(peer);
    for (const resolve of waiters) resolve(connected);
  }

  /** A peer's installed connection is gone and none replaced it. */
  private lost(peer: Peer): void {
    this.onPeerChange?.(peer.id, false);
  }

  get address(): Address | undefined {
    return this.boundAddress;
  }

  /** Open connections by peer, sorted, and which side dialed: for stats and the one-per-pair tests. */
  connections(): { peer: NodeId; direction: Direction }[] {
    const open: { peer: NodeId; direction: Direction }[] = [];
    for (const peer of this.peers.values()) if (peer.conn !== undefined) open.push({ peer: peer.id, direction: peer.conn.direction });
    return open.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  }

  /** True while any dial is in flight or waiting to be retried. */
  get dialing(): boolean {
    for (const peer of this.peers.values()) if (peer.dial !== undefined || peer.reconnectTimer !== undefined) return true;
    return false;
  }

  listen(channel: string, onMessage: MessageHandler): void {
    assert(typeof channel === 'string' && channel.length > 0, 'net.listen: channel must be a non-empty string');
    assert(typeof onMessage === 'function', 'net.listen: onMessage must be a function');
    this.handlers.set(channel, onMessage);
  }

  send(to: NodeId, channel: string, payload: Uint8Array, awaitsReply = false): void {
    assert(payload instanceof Uint8Array, 'net.send: payload must be a Uint8Array');
    assert(typeof channel === 'string' && channel.length > 0, 'net.send: channel must be a non-empty string');
    if (payload.length > this.payloadBytesMax) {
      throw new DistError('E_NET_TOO_LARGE', `payload of ${payload.length} bytes exceeds payloadBytesMax ${this.payloadBytesMax}`, { bytes: payload.length, to, channel });
    }
    if (this.closed) return;
    this.stats.framesSent++;
    if (to === this.nodeId) return this.sendToSelf(channel, payload);
    let peer = this.peers.get(to);
    if (peer === undefined) {
      if (!this.directory.has(to)) {
        this.stats.dropsUnknownPeer++;
        return;
      }
      peer = this.addPeer(to);
    }
    this.enqueue(peer, this.encoder.encode(channel, payload));
    if (awaitsReply) processBusyPoller.sentCall();
    else processBusyPoller.sentAnswer();
  }

  /** Stops accepting, flushes what is queued on open connections (best effort), closes every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    const closing: Promise<void>[] = [];
    for (const peer of this.peers.values()) {
      if (peer.reconnectTimer !== undefined) clearTimeout(peer.reconnectTimer);
      peer.dial?.terminate();
      if (peer.conn !== undefined) {
        this.flush(peer);
        closing.push(closeSocket(peer.conn.ws, 1001, 'node stopping'));
      }
    }
    await Promise.all(closing);
    this.peers.clear();
    for (const peer of [...this.connectWaiters.keys()]) this.settleConnectWaiters(peer, false);
    this.wss.close();
    const server = this.server;
    if (server !== undefined && this.ownsServer) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- sending ---------------------------------------------------------------------------------------

  private sendToSelf(channel: string, payload: Uint8Array): void {
    // Delivered later, as a copy, like any other datagram: handlers run to completion and never alias.
    const copy = Uint8Array.from(payload);
    setImmediate(() => {
      if (!this.closed) this.deliver(this.nodeId, channel, copy);
    });
  }

  private enqueue(peer: Peer, frame: Buffer): void {
    if (peer.queue.length >= this.limits.peerQueueFramesMax || peer.queueBytes + frame.length > this.limits.peerQueueBytesMax) {
      this.stats.dropsQueueFull++;
      return;
    }
    peer.queue.push(frame);
    peer.queueBytes += frame.length;
    if (peer.conn !== undefined) this.scheduleFlush(peer);
    else this.ensureDial(peer);
  }

  private scheduleFlush(peer: Peer): void {
    if (peer.flushScheduled) return;
    peer.flushScheduled = true;
    queueMicrotask(peer.flushTask);
  }

  /**
   * Writes queued frames as batches of at most `batchBytesMax` until the queue is empty or the socket holds
   * more than `socketBufferedBytesHigh`. Only the batch that crosses the mark asks for a write callback
   * (which resumes flushing once the socket has taken it), so the common path pays for no callback; the
   * socket overshoots the mark by at most one batch.
   */
  private flush(peer: Peer): void {
    const conn = peer.conn;
    if (conn === undefined || conn.ws.readyState !== WebSocket.OPEN || peer.waitingDrain) return;
    const batchesMax = peer.queue.length; // each batch takes at least one frame
    for (let batches = 0; peer.queue.length > 0; batches++) {
      assert(batches < batchesMax, 'flush: batch loop bound');
      const count = this.takeBatchCount(peer.queue);
      const frames = peer.queue.splice(0, count);
      const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
      peer.queueBytes -= data.length;
      this.stats.batchesSent++;
      this.stats.bytesSent += data.length;
      if (conn.ws.bufferedAmount + data.length > this.limits.socketBufferedBytesHigh) {
        peer.waitingDrain = true;
        conn.ws.send(data, binarySendOptions, () => this.onWritten(peer));
        return;
      }
      conn.ws.send(data, binarySendOptions);
    }
    assert(peer.queueBytes === 0, 'flush: queue bytes out of sync');
  }

  private takeBatchCount(queue: readonly Buffer[]): number {
    let bytes = queue[0]!.length;
    let count = 1;
    while (count < queue.length && bytes + queue[count]!.length <= this.limits.batchBytesMax) bytes += queue[count++]!.length;
    return count;
  }

  private onWritten(peer: Peer): void {
    if (!peer.waitingDrain) return;
    peer.waitingDrain = false;
    this.scheduleFlush(peer);
  }

  // --- dialing ---------------------------------------------------------------------------------------

  private addPeer(id: NodeId): Peer {
    const peer: Peer = {
      id, conn: undefined, dial: undefined, queue: [], queueBytes: 0, flushScheduled: false, waitingDrain: false,
      dialFailures: 0, reconnectTimer: undefined,
      flushTask: () => {
        peer.flushScheduled = false;
        this.flush(peer);
      },
    };
    this.peers.set(id, peer);
    return peer;
  }

  private ensureDial(peer: Peer): void {
    if (this.closed || peer.conn !== undefined || peer.dial !== undefined || peer.reconnectTimer !== undefined) return;
    const address = this.directory.get(peer.id);
    if (address === undefined) {
      this.dropQueue(peer, 'unknown');
      return;
    }
    this.stats.dials++;
    const headers: Record<string, string> = { [headerFrom]: this.nodeId, [headerTo]: peer.id };
    if (this.boundAddress !== undefined) headers[headerAddress] = formatAddress(this.boundAddress);
    if (this.secret !== undefined) headers[headerAuth] = connectionToken(this.secret, this.nodeId, peer.id);
    const ws = new WebSocket(`ws://${formatAddress(address)}${wsPath}`, {
      headers, maxPayload: this.wirePayloadBytesMax, perMessageDeflate: false, skipUTF8Validation: true,
      handshakeTimeout: this.limits.connectTimeoutMs, followRedirects: false, generateMask: zeroMask,
    });
    peer.dial = ws;
    if (this.unrefSockets) ws.on('upgrade', (response: http.IncomingMessage) => response.socket.unref());
    ws.on('error', (error) => debugNet('%s dial/conn to %s error: %s', this.nodeId, peer.id, error.message));
    ws.on('close', () => this.onSocketClose(peer, ws));
    ws.on('open', () => {
      if (peer.dial !== ws) {
        // An inbound connection from a lower id won the race meanwhile.
        ws.terminate();
        return;
      }
      peer.dial = undefined;
      this.install(peer, ws, 'out');
    });
  }

  private onSocketClose(peer: Peer, ws: WebSocket): void {
    if (peer.dial === ws) {
      peer.dial = undefined;
      this.stats.dialFailures++;
      peer.dialFailures++;
      if (peer.conn === undefined) this.settleConnectWaiters(peer.id, false);
      if (peer.dialFailures >= this.limits.reconnectAttemptsMax) {
        debugNet('%s gives up on %s after %d dials', this.nodeId, peer.id, peer.dialFailures);
        peer.dialFailures = 0;
        this.dropQueue(peer, 'down');
        return;
      }
    } else if (peer.conn?.ws === ws) {
      peer.conn = undefined;
      peer.waitingDrain = false;
      this.lost(peer);
    } else {
      return; // a superseded socket
    }
    if (peer.queue.length > 0 && peer.conn === undefined) this.scheduleReconnect(peer);
    else this.forgetIfIdle(peer);
  }

  private scheduleReconnect(peer: Peer): void {
    if (this.closed || peer.reconnectTimer !== undefined) return;
    const exponent = Math.min(peer.dialFailures, 30);
    const ceilingMs = Math.min(this.limits.reconnectDelayMsMax, this.limits.reconnectDelayMsMin * 2 ** exponent);
    // Jitter keeps a restarted cluster from redialing in lockstep. The runtime may use real randomness.
    const delayMs = ceilingMs / 2 + Math.random() * (ceilingMs / 2);
    peer.reconnectTimer = setTimeout(() => {
      peer.reconnectTimer = undefined;
      if (peer.queue.length > 0) this.ensureDial(peer);
    }, delayMs);
  }

  private dropQueue(peer: Peer, reason: 'unknown' | 'down'): void {
    this.settleConnectWaiters(peer.id, false);
    if (reason === 'unknown') this.stats.dropsUnknownPeer += peer.queue.length;
    else this.stats.dropsPeerDown += peer.queue.length;
    peer.queue = [];
    peer.queueBytes = 0;
    this.forgetIfIdle(peer);
  }

  /** Peers without a socket or queued frames are forgotten, so ids arriving from the network cannot grow the map. */
  private forgetIfIdle(peer: Peer): void {
    if (peer.conn === undefined && peer.dial === undefined && peer.queue.length === 0 && peer.reconnectTimer === undefined) {
      this.peers.delete(peer.id);
    }
  }

  // --- accepting -------------------------------------------------------------------------------------

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => debugNet('%s upgrade socket error: %s', this.nodeId, error.message));
    if (this.unrefSockets) (socket as Duplex & { unref?: () => void }).unref?.();
    const from = req.headers[headerFrom];
    const refusal = this.checkUpgrade(req, from);
    if (refusal !== undefined) {
      this.stats.connectionsRefused++;
      debugNet('%s refuses connection from %s: %d %s', this.nodeId, String(from), refusal.status, refusal.reason);
      socket.end(`HTTP/1.1 ${refusal.status} ${refusal.reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    assert(typeof from === 'string', 'checkUpgrade admits only string senders');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onAccepted(from, ws, req.headers[headerAddress]));
  }

  private checkUpgrade(req: http.IncomingMessage, from: unknown): { status: number; reason: string } | undefined {
    if (this.closed) return { status: 503, reason: 'Stopping' };
    if (req.url !== wsPath) return { status: 404, reason: 'Not Found' };
    if (!isValidNodeId(from) || from === this.nodeId) return { status: 400, reason: 'Bad Sender' };
    if (req.headers[headerTo] !== this.nodeId) return { status: 421, reason: 'Misdirected' };
    if (this.verifier !== undefined) {
      const verdict = this.verifier.verify(from, req.headers[headerAuth]);
      if (verdict === 'busy') return { status: 503, reason: 'Busy' };
      if (verdict !== 'ok') return { status: 401, reason: `Unauthorized (${verdict})` };
    }
    if (this.openConnectionCount() >= this.limits.connectionsMax) return { status: 503, reason: 'Too Many Connections' };
    const peer = this.peers.get(from);
    const oursIsOutbound = peer !== undefined && (peer.dial !== undefined || peer.conn?.direction === 'out');
    if (oursIsOutbound && from > this.nodeId) return { status: 409, reason: 'Duplicate' }; // our (lower-id) dial wins
    return undefined;
  }

  private onAccepted(from: NodeId, ws: WebSocket, advertised: string | string[] | undefined): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    this.stats.connectionsAccepted++;
    const peer = this.peers.get(from) ?? this.addPeer(from);
    if (peer.dial !== undefined) {
      const dial = peer.dial;
      peer.dial = undefined;
      dial.terminate();
    }
    if (peer.conn !== undefined) {
      const old = peer.conn;
      peer.conn = undefined;
      old.ws.terminate();
    }
    this.learnAddress(from, advertised);
    ws.on('error', (error) => debugNet('%s conn from %s error: %s', this.nodeId, from, error.message));
    ws.on('close', () => this.onSocketClose(peer, ws));
    this.install(peer, ws, 'in');
  }

  /** A dialer that passed the checks tells us where it listens, so we can redial it after a drop. */
  private learnAddress(from: NodeId, advertised: string | string[] | undefined): void {
    if (this.directory.has(from) || typeof advertised !== 'string') return;
    if (this.directory.size >= learnedAddressesDirectoryMax) return; // dialers must not grow it without bound
    try {
      this.directory.set(from, parseAddress(advertised));
    } catch {
      debugNet('%s ignores bad advertised address from %s', this.nodeId, from);
    }
  }

  private openConnectionCount(): number {
    let count = 0;
    for (const peer of this.peers.values()) if (peer.conn !== undefined || peer.dial !== undefined) count++;
    return count;
  }

  /** Drops connections silent for `silentBeatsMax` intervals (a peer host gone without a FIN); pings the rest. */
  private heartbeat(): void {
    for (const peer of this.peers.values()) {
      const conn = peer.conn;
      if (conn === undefined) continue;
      conn.silentBeats = conn.heard ? 0 : conn.silentBeats + 1;
      if (conn.silentBeats >= silentBeatsMax) {
        debugNet('%s drops silent connection with %s', this.nodeId, peer.id);
        peer.conn = undefined;
        peer.waitingDrain = false;
        conn.ws.terminate();
        this.lost(peer);
        if (peer.queue.length > 0) this.scheduleReconnect(peer);
        continue;
      }
      if (conn.ws.readyState !== WebSocket.OPEN) continue; // closing: its close event cleans up
      conn.heard = false;
      conn.ws.ping();
    }
  }

  // --- receiving -------------------------------------------------------------------------------------

  private install(peer: Peer, ws: WebSocket, direction: Direction): void {
    assert(peer.conn === undefined, 'install: peer already connected');
    const conn: Connection = { ws, peerId: peer.id, direction, headers: new HeaderCache(), heard: true, silentBeats: 0 };
    peer.conn = conn;
    peer.dialFailures = 0;
    if (peer.reconnectTimer !== undefined) {
      clearTimeout(peer.reconnectTimer);
      peer.reconnectTimer = undefined;
    }
    ws.on('message', (data: RawData, isBinary: boolean) => this.onData(peer, conn, data, isBinary));
    ws.on('pong', () => (conn.heard = true));
    ws.on('error', (error: Error & { code?: string }) => {
      // ws reports protocol violations (e.g. a message over maxPayload) as errors and closes the socket.
      if (typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) this.stats.badFrames++;
    });
    debugNet('%s connected to %s (%s)', this.nodeId, peer.id, direction);
    this.onPeerChange?.(peer.id, true);
    this.settleConnectWaiters(peer.id, true);
    if (peer.queue.length > 0) this.scheduleFlush(peer);
  }

  private onData(peer: Peer, conn: Connection, data: RawData, isBinary: boolean): void {
    if (peer.conn !== conn) return; // superseded connection draining
    conn.heard = true;
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.dropConnection(peer, conn, 'text or fragmented-array message');
      return;
    }
    let delivered = 0;
    let flushAt = earlyFlushFrames;
    const error = decodeBatch(data, this.limits, conn.headers, (header, payload) => {
      const refused = this.onFrame(conn, header, payload);
      if (++delivered === flushAt) {
        flushAt *= 2;
        if (peer.queue.length > 0) this.flush(peer);
      }
      return refused;
    });
    processBusyPoller.received(delivered);
    if (error !== undefined) this.dropConnection(peer, conn, error.message);
  }

  private onFrame(conn: Connection, header: DecodedHeader, payload: Uint8Array): DistError | undefined {
    if (header.from !== conn.peerId) {
      return new DistError('E_NET_BAD_FRAME', `frame claims sender ${header.from} on a connection from ${conn.peerId}`);
    }
    this.stats.framesReceived++;
    this.deliver(header.from, header.channel, payload);
    return undefined;
  }

  private deliver(from: NodeId, channel: string, payload: Uint8Array): void {
    const handler = this.handlers.get(channel);
    if (handler === undefined) {
      this.stats.dropsNoListener++;
      return;
    }
    try {
      handler(from, payload);
    } catch (error) {
      // The handler's bug, not the network's: count it, keep the connection, keep serving.
      this.stats.handlerErrors++;
      debugNet('%s handler for %s threw: %s', this.nodeId, channel, (error as Error)?.stack ?? String(error));
    }
  }

  private dropConnection(peer: Peer, conn: Connection, reason: string): void {
    this.stats.badFrames++;
    debugNet('%s closes connection with %s: %s', this.nodeId, conn.peerId, reason);
    if (peer.conn === conn) {
      peer.conn = undefined;
      peer.waitingDrain = false;
      this.lost(peer);
      if (peer.queue.length > 0) this.scheduleReconnect(peer);
    }
    void closeSocket(conn.ws, 1007, reason.slice(0, 100));
  }
}

/** Sends a close frame, then destroys the socket if the other side does not answer within the grace. */
function closeSocket(ws: WebSocket, code: number, reason: string): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, closeGraceMs);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate();
    }
  });
}

/**
 * RFC 6455 masks client frames so that a browser's script cannot steer the bytes a proxy caches; between
 * cluster nodes (authenticated, no browser, no proxy) it only costs an XOR of every byte on both sides,
 * in JavaScript when ws has no native helper. ws skips masking and unmasking for an all-zero mask.
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
