/**
 * The Env `Net` of a course node: the ws transport between the project's own nodes, the course's HTTP
 * PUT with everybody else, on one port.
 *
 * A course node (the reference implementation, or anything speaking COURSE-API's wire protocol) only
 * understands PUTs, so a node cannot know in advance which way to talk to a peer. The first call to a
 * peer probes: a ws dial to the peer's course port (our nodes accept the upgrade on the same HTTP server
 * that answers PUTs). If the dial opens, calls go over that connection from then on; if the peer answers
 * the upgrade with anything else, it is a course node and calls go as PUTs. Calls made while the probe
 * is out wait for it, in order.
 *
 * What the course surface promises is kept on both paths: a peer that dies mid-call fails the calls
 * waiting on it at once (`onPeerLost`, which the facade wires to the node's `peerDown`), as a PUT does
 * through its connection; a peer found unreachable is probed afresh next time, so a port taken over by
 * another implementation is relearned.
 */
import type http from 'node:http';
import type { MessageHandler, Net, NodeId } from '../env/index.js';
import { addressOf } from '../protocols/node/id.js';
import { isCallMessage, nodeChannel } from '../protocols/node/messages.js';
import { netLimitsDefault, type Address, type NetLimits } from './config.js';
import { courseBodyBytesMax, CourseHttpNet } from './course-http.js';
import { WsNet } from './transport.js';

/** The ws transport's limits for course nodes: payloads as large as a course body, and a peer that stops
 * answering dials is given up on quickly (its calls then go as PUTs, which report the failure). */
const courseWsLimits: NetLimits = Object.freeze({
  ...netLimitsDefault,
  payloadBytesMax: courseBodyBytesMax,
  batchBytesMax: courseBodyBytesMax,
  peerQueueBytesMax: 4 * courseBodyBytesMax,
  socketBufferedBytesHigh: courseBodyBytesMax,
  reconnectAttemptsMax: 2,
});

/**
 * A directory that knows every course node without being told: a course node id is its address
 * (`ip:port`, protocols/node/id.ts). Entries set explicitly still win.
 */
export class CourseDirectory extends Map<NodeId, Address> {
  override has(id: NodeId): boolean {
    return super.has(id) || addressOf(id).port !== 0;
  }

  override get(id: NodeId): Address | undefined {
    const known = super.get(id);
    if (known !== undefined) return known;
    const { ip, port } = addressOf(id);
    return port === 0 ? undefined : { host: ip, port };
  }
}

type PeerPath = 'ws' | 'put' | 'probing';

export interface CourseNetOptions {
  readonly nodeId: NodeId;
  readonly secret?: string | undefined;
}

export interface CourseNetStats {
  callsWs: number;
  callsPut: number;
  probes: number;
  probesToPut: number;
}

/**
 * Replies reach course code's callbacks from inside the handler. The ws transport keeps serving when a
 * handler throws (it counts the error and carries on), but on a course node what a callback throws is
 * the program's: an uncaught exception, which is how Jest reports a failed `expect` in a callback. So
 * it is thrown again outside the transport instead of being swallowed there.
 */
function inTheOpen(onMessage: MessageHandler): MessageHandler {
  return (from, payload) => {
    try {
      onMessage(from, payload);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  };
}

export class CourseNet implements Net {
  readonly payloadBytesMax = courseBodyBytesMax;
  readonly stats: CourseNetStats = { callsWs: 0, callsPut: 0, probes: 0, probesToPut: 0 };
  readonly put: CourseHttpNet;
  /** Replaced when a node starts again after its server was closed (a closed WsNet does not reopen). */
  private ws: WsNet;
  /** Every `listen`, so a fresh ws transport hears the same channels. */
  private readonly listeners: [string, MessageHandler][] = [];
  /** Called when calls waiting on `peer` can no longer be answered (its ws connection is gone). */
  onPeerLost: ((peer: NodeId) => void) | undefined;
  private readonly paths = new Map<NodeId, PeerPath>();
  /** Calls to a peer being probed, in send order (copies: encoders reuse their buffers). */
  private readonly waiting = new Map<NodeId, Uint8Array[]>();
  /** Set once the ws transport is shut: from then on every call goes as a PUT. */
  private wsClosing: Promise<void> | undefined;

  constructor(private readonly options: CourseNetOptions) {
    this.put = new CourseHttpNet({ nodeId: options.nodeId, secret: options.secret, onUnreachable: (peer) => this.forget(peer, 'put') });
    this.ws = this.createWs();
  }

  private createWs(): WsNet {
    const ws = new WsNet({
      nodeId: this.options.nodeId, limits: courseWsLimits, directory: new CourseDirectory(), secret: this.options.secret, unrefSockets: true,
      onPeerChange: (peer, connected) => this.onPeerChange(peer, connected),
    });
    for (const [channel, onMessage] of this.listeners) ws.listen(channel, onMessage);
    return ws;
  }

  /**
   * Accepts the ws transport on the node's course server once it listens. Its connections are upgraded
   * sockets, which an `http.Server` waits for before `close` calls back; course code closes a node with
   * `server.close(cb)`, so closing the server shuts the ws transport too (later calls go as PUTs). Course
   * code also starts a node again in the same process (test files do, between tests); the old transport
   * was shut with the old server, so the new server gets a fresh one.
   */
  serve(server: http.Server, bound: Address): void {
    if (this.wsClosing !== undefined) {
      this.ws = this.createWs();
      this.wsClosing = undefined;
      this.paths.clear();
    }
    this.ws.adopt(server, bound);
    const closeServer = server.close.bind(server);
    server.close = ((cb?: (err?: Error) => void) => {
      void this.stopServing();
      return closeServer(cb);
    }) as typeof server.close;
  }

  listen(channel: string, onMessage: MessageHandler): void {
    const handler = inTheOpen(onMessage);
    this.listeners.push([channel, handler]);
    this.put.listen(channel, handler);
    this.ws.listen(channel, handler);
  }

  send(to: NodeId, channel: string, payload: Uint8Array, awaitsReply = false): void {
    // Replies and other protocols' messages only ever go to our own nodes: PUT callers are answered on
    // their HTTP socket, never through here.
    if (channel !== nodeChannel || !isCallMessage(payload)) return this.ws.send(to, channel, payload, awaitsReply);
    if (this.wsClosing !== undefined) {
      this.stats.callsPut++;
      return this.put.send(to, channel, payload);
    }
    // To itself: straight through the ws transport once it serves (it delivers to self without a socket).
    if (to === this.options.nodeId) return this.ws.address !== undefined ? this.ws.send(to, channel, payload, awaitsReply) : this.put.send(to, channel, payload);
    const path = this.paths.get(to);
    if (path === 'ws') {
      this.stats.callsWs++;
      return this.ws.send(to, channel, payload, awaitsReply);
    }
    if (path === 'put') {
      this.stats.callsPut++;
      return this.put.send(to, channel, payload);
    }
    const queued = this.waiting.get(to);
    if (queued === undefined) this.waiting.set(to, [payload.slice()]);
    else queued.push(payload.slice());
    if (path === undefined) this.probe(to);
  }

  /**
   * Closes the ws transport (its connections keep the HTTP server from closing) and fails the calls
   * waiting on it; the node still calls out, as PUTs. Idempotent.
   */
  stopServing(): Promise<void> {
    if (this.wsClosing === undefined) {
      this.wsClosing = this.ws.close();
      this.paths.clear();
    }
    return this.wsClosing;
  }

  async close(): Promise<void> {
    this.put.close();
    await this.stopServing();
  }

  private probe(to: NodeId): void {
    this.paths.set(to, 'probing');
    this.stats.probes++;
    void this.ws.connect(to).then((connected) => {
      // A connection that dropped while the probe settled is not one to send on.
      const path: PeerPath = connected && this.ws.isConnected(to) ? 'ws' : 'put';
      if (path === 'put') this.stats.probesToPut++;
      this.paths.set(to, path);
      const queued = this.waiting.get(to) ?? [];
      this.waiting.delete(to);
      for (const payload of queued) this.send(to, nodeChannel, payload);
    });
  }

  private onPeerChange(peer: NodeId, connected: boolean): void {
    // A peer that dialed us is one of ours; while a probe is out, the probe decides.
    if (connected) {
      if (this.paths.get(peer) !== 'probing') this.paths.set(peer, 'ws');
      return;
    }
    this.forget(peer, 'ws');
  }

  /** The peer is unreachable on `path`: probe it afresh next time; calls waiting on ws fail now. */
  private forget(peer: NodeId, path: PeerPath): void {
    if (this.paths.get(peer) !== path) return;
    this.paths.delete(peer);
    if (path === 'ws') this.onPeerLost?.(peer);
  }
}
