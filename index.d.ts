// Types for leanrt: the leancloud-realtime 2.4.0 API (protocol.md §7–§8).

declare namespace realtime {
  // ------------------------------------------------------------------------------------
  // Options and configuration
  // ------------------------------------------------------------------------------------

  /** What `auth` is asked to sign (§6.10), exactly 2.4.0's objects. */
  type AuthParams =
    /** `session open` (each time a socket opens). */
    | { clientId: string | undefined }
    /** `conv start`. */
    | { clientId: string | undefined; members: string[] }
    /** `conv add` (`invite`, also for `join()`) and `conv remove` (`kick`; never for removing exactly `[self]`). */
    | { clientId: string | undefined; members: string[]; convId: string; action: 'invite' | 'kick' }

  /** An approval; anything without `signature` denies (the auth callback then throws). */
  interface AuthResult {
    signature: string
    nonce: string
    /** Normally UTC seconds; sent as given. */
    timestamp: number | string
  }

  type AuthFunction = (params: AuthParams, callback: (result?: AuthResult | null) => void) => void

  interface Options {
    appId: string
    /** The peerId; anonymous when absent (the server assigns one, which leanrt adopts). */
    clientId?: string
    /** Escape `&`, `<`, `>` in received text (§7.2). Default false. */
    encodeHTML?: boolean
    /** The signature function (the docs' `authFun` is not read). */
    auth?: AuthFunction
    /** Ask the router for `wss://` URLs. Default true (false with the Flash WebSocket plugin). */
    secure?: boolean
    /** Default `'cn'`; anything else throws `There is no this region.` */
    region?: 'cn' | 'us'
    /** leanrt: a ws/wss URL to connect to directly, skipping the router. Default `LEANRT_SERVER`. */
    server?: string
    /** leanrt: a router base URL (`GET {router}/v1/route`). Default `LEANRT_ROUTER`. */
    router?: string
  }

  /** A W3C-style WebSocket class, such as the `ws` package's. */
  interface WebSocketClass {
    new (url: string): WebSocketLike
    loadFlashPolicyFile?: unknown
  }

  interface WebSocketLike {
    readonly readyState: number
    addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void
    send(data: string): void
    close(): void
  }

  interface Config {
    /** Drive this WebSocket class instead of the native transport. */
    WebSocket?: WebSocketClass
    /** Quiet time (ms) after which `{}` is sent. Default 60000. */
    heartbeatsTime?: number
    [key: string]: unknown
  }

  // ------------------------------------------------------------------------------------
  // Frames (event and callback payloads are the raw server frames, §5)
  // ------------------------------------------------------------------------------------

  /** Every server frame carries these; other fields depend on `cmd`/`op`. */
  interface Frame {
    cmd: string
    op?: string
    /** The serial id of the request a reply answers; absent on pushes. */
    i?: number
    /** The recipient clientId. */
    peerId?: string
    [key: string]: unknown
  }

  /** `session opened`: the `open` event and the `realtime()`/`open()` callback. */
  interface OpenFrame extends Frame {
    cmd: 'session'
    op: 'opened'
  }

  /** `session closed` (raw `session-closed`). */
  interface SessionClosedFrame extends Frame {
    cmd: 'session'
    op: 'closed'
    code?: number
    reason?: string
    detail?: string
  }

  /** `session query-result`: the raw reply to `ping`. */
  interface QueryResultFrame extends Frame {
    cmd: 'session'
    op: 'query-result'
    onlineSessionPeerIds: string[]
  }

  /** `conv started`: the `create` event. */
  interface StartedFrame extends Frame {
    cmd: 'conv'
    op: 'started'
    cid: string
    /** ISO-8601. */
    cdate?: string
  }

  /** `conv added` / `conv removed`: the `add`/`remove`/`join`/`leave` callbacks. */
  interface MembersChangedFrame extends Frame {
    cmd: 'conv'
    op: 'added' | 'removed'
    cid?: string
  }

  /** `conv joined` / `left` (`invited`, `kicked`) and `members-joined` / `members-left`. */
  interface MembershipFrame extends Frame {
    cmd: 'conv'
    op: 'joined' | 'left' | 'members-joined' | 'members-left'
    cid: string
    initBy?: string
    /** `members-joined` / `members-left`: the clientIds concerned. */
    m?: string[]
  }

  /** `conv results`: the raw reply to `query`, `list` and `room(id)`. */
  interface ResultsFrame extends Frame {
    cmd: 'conv'
    op: 'results'
    results: ConversationInfo[]
  }

  /** `conv result`: the raw reply to `count`. */
  interface CountFrame extends Frame {
    cmd: 'conv'
    op: 'result'
    count: number
  }

  /** `conv updated`: the `update` callback. */
  interface UpdatedFrame extends Frame {
    cmd: 'conv'
    op: 'updated'
    cid?: string
    /** ISO-8601. */
    udate?: string
  }

  /** The `send` callback: `uid` and `t` on success, `code`/`reason` on failure. */
  interface AckFrame extends Frame {
    cmd: 'ack'
    uid?: string
    t?: number
    code?: number
    reason?: string
    appCode?: number
  }

  /** `rcp`: the `receipt` event and `room.receipt()`. */
  interface ReceiptFrame extends Frame {
    cmd: 'rcp'
    cid: string
    /** The message id. */
    id: string
    /** When it was delivered, ms. */
    t: number
  }

  /** `session error`, `conv error` and `error` frames: the `error` event. */
  interface ErrorFrame extends Frame {
    code: number
    reason: string
    appCode?: number
    detail?: string
  }

  /** The raw `logs` reply. */
  interface LogsFrame extends Frame {
    cmd: 'logs'
    logs: LogItem[]
  }

  // ------------------------------------------------------------------------------------
  // Messages (§7)
  // ------------------------------------------------------------------------------------

  type MediaType = 'text' | 'image' | 'audio' | 'video' | 'location' | 'file'

  /** A decoded `_lc*` media message (`_lctype` -1..-6), keys in this order. */
  interface MediaMessage {
    text: unknown
    attr: unknown
    /** From `_lcfile.url`, for any type. */
    url?: string
    /** From `_lcfile.metaData`, for any type. */
    metaData?: Record<string, unknown>
    type: MediaType
    /** `location` only (`_lcloc`). */
    location?: { longitude: number; latitude: number }
  }

  /**
   * A received message: the text (also for JSON arrays and numbers, and for unparsable
   * `{…}` text), a media message, or the parsed JSON object (no own `_lctype`, or any
   * other `_lctype`: the whole object, unencoded).
   */
  type MessageBody = string | MediaMessage | Record<string, unknown>

  /** `direct`: the `message` event, `msg` converted (raw `direct` listeners registered before the first open see the text). */
  interface MessageFrame extends Frame {
    cmd: 'direct'
    cid: string
    /** The message id. */
    id: string
    fromPeerId: string
    /** ms. */
    timestamp: number
    msg: MessageBody
    transient?: boolean
    offline?: boolean
  }

  /** A `log` item: `data` converted, `fromPeerId` and `msg` (the same value as `data`) added. */
  interface LogItem {
    from: string
    fromPeerId: string
    data: MessageBody
    msg: MessageBody
    /** ms. */
    timestamp: number
    msgId: string
    ackAt?: number
    [key: string]: unknown
  }

  /** A conversation as `query` returns it (§6.2). */
  interface ConversationInfo {
    objectId: string
    /** The creator. */
    c?: string
    /** The members; absent with `compact` and for transient conversations. */
    m?: string[]
    name?: string
    attr?: Record<string, unknown>
    tr?: boolean
    unique?: boolean
    lm?: { __type: 'Date'; iso: string }
    createdAt?: string
    updatedAt?: string
    /** `withLastMessages`: the last message. */
    msg?: string
    msg_from?: string
    msg_mid?: string
    msg_timestamp?: number
    [key: string]: unknown
  }

  // ------------------------------------------------------------------------------------
  // Events
  // ------------------------------------------------------------------------------------

  /** The `close` event (leanrt builds it; 2.4.0 passed the socket's CloseEvent). */
  interface CloseEvent {
    type: 'close'
    code: number
    reason: string
    wasClean: boolean
  }

  /** Engine errors (router, socket, undecodable frames); `frame` when a held send was dropped. */
  interface EngineError extends Error {
    frame?: Frame
  }

  /** Payloads by event name: the events of §8.5 and the raw `cmd[-op]` names of §3. */
  interface EventMap {
    open: OpenFrame
    close: CloseEvent
    reuse: undefined
    create: StartedFrame
    invited: MembershipFrame
    kicked: MembershipFrame
    membersjoined: MembershipFrame
    membersleft: MembershipFrame
    /** Deprecated: `members-joined`, and `joined` when `peerId !== initBy`. */
    join: MembershipFrame
    /** Deprecated: `left` and `members-left`. */
    left: MembershipFrame
    message: MessageFrame
    receipt: ReceiptFrame
    /** Also the raw name of `error` frames. */
    error: EngineError | ErrorFrame | undefined
    /** Declared by 2.4.0, never emitted. */
    update: never
    'session-opened': OpenFrame
    'session-closed': SessionClosedFrame
    'session-query-result': QueryResultFrame
    'session-error': ErrorFrame
    'conv-started': StartedFrame
    'conv-added': MembersChangedFrame
    'conv-removed': MembersChangedFrame
    'conv-joined': MembershipFrame
    'conv-left': MembershipFrame
    'conv-members-joined': MembershipFrame
    'conv-members-left': MembershipFrame
    'conv-results': ResultsFrame
    'conv-result': CountFrame
    'conv-updated': UpdatedFrame
    'conv-error': ErrorFrame
    direct: MessageFrame
    ack: AckFrame
    rcp: ReceiptFrame
    logs: LogsFrame
  }

  /** An event listener: called with the payload, `this` being the event center (as 2.4.0). */
  type Listener<T> = (this: EventCenter, data: T) => void

  /** A method's callback: called with the result alone. */
  type Callback<T> = (data: T) => void

  // ------------------------------------------------------------------------------------
  // Method options (each is mutated by the call, as 2.4.0 does)
  // ------------------------------------------------------------------------------------

  interface RoomOptions {
    /** Default `''`. */
    name?: string
    /** The other members (the creator is added by the server). Default `[]`. */
    members?: string[]
    /** Default `{}`. */
    attr?: Record<string, unknown>
    /** An open chat room without member limit. Default false. */
    transient?: boolean
    /** Reuse the conversation with exactly these members. Default false. */
    unique?: boolean
  }

  interface SendOptions {
    /** Send `data` as a media message (§7.1); every type but `text` needs `data.metaData`. */
    type?: MediaType
    /** Ask for a receipt (`r: 1`); rewritten to `1` when truthy. */
    receipt?: boolean | number
    /** Not stored, never acked: the callback never fires. */
    transient?: boolean
    /** Written by `send`: the conversation id. */
    cid?: string
    /** Written by `send`. */
    serialId?: number
    /** Written by `send`: the `msg` text sent. */
    data?: string
  }

  /** `send(data, {type})`: what each media type reads. */
  interface MediaData {
    text?: string
    attr?: Record<string, unknown>
    url?: string
    objectId?: string
    /**
     * image: `name format height width size`; audio/video: `name format duration size`;
     * location: `longitude latitude`; file: `name size`.
     */
    metaData?: {
      name?: string
      format?: string
      height?: number
      width?: number
      size?: number
      duration?: number
      longitude?: number
      latitude?: number
      [key: string]: unknown
    }
  }

  interface LogOptions {
    /** Upper bound (exclusive), normally ms; left out when falsy. */
    t?: number
    /** With `t`: the message id bound; left out when falsy. */
    mid?: string
    /** Default 20 (0 also means 20). */
    limit?: number
    /** Another conversation's id (undocumented in 2.4.0); written by `log` otherwise. */
    cid?: string
    /** Written by `log` unless given. */
    serialId?: number
  }

  /** The `where` of `query`: a conversation query, with 2.4.0's rewrites. */
  interface QueryWhere {
    /** A clientId, or (leanrt) an array that becomes `{$all: [...]}`; other objects are sent as given. */
    m?: string | string[] | Record<string, unknown>
    /** Become `objectId: {$in: ...}` (and are deleted). */
    roomIds?: string[]
    convIds?: string[]
    objectId?: string | Record<string, unknown>
    [key: string]: unknown
  }

  interface QueryOptions {
    /** Default (and written when absent): `{m: clientId}`. */
    where?: QueryWhere
    /** Default `-lm`. */
    sort?: string
    /** Default 10. */
    limit?: number
    /** Default 0. */
    skip?: number
    /** Leave out `m` (flag 1). */
    compact?: boolean
    /** Add the last message (flag 2). */
    withLastMessages?: boolean
    /** Written by `query`. */
    serialId?: number
    /** Written by `query`. */
    flag?: number
  }

  // ------------------------------------------------------------------------------------
  // Objects
  // ------------------------------------------------------------------------------------

  interface RoomObject {
    /** `''` until created or found. */
    id: string
    /** Set at creation or fetch; `update` does not change them. */
    name?: string
    attr: Record<string, unknown>
    add(clientIds: string | string[], callback?: Callback<MembersChangedFrame>): this
    remove(clientIds: string | string[], callback?: Callback<MembersChangedFrame>): this
    /** `add(clientId)`. */
    join(callback?: Callback<MembersChangedFrame>): this
    /** `remove(clientId)`: only a callback (the docs' `clientIdList` does not exist). */
    leave(callback?: Callback<MembersChangedFrame>): this
    /** Argument count decides: with 2 arguments the second is the callback. */
    send(data: unknown): this
    send(data: unknown, callback: Callback<AckFrame>): this
    /** (Options alone would be taken for the callback, so the callback is required here.) */
    send(data: MediaData, options: SendOptions & { type: MediaType }, callback: Callback<AckFrame> | undefined): this
    send(data: unknown, options: SendOptions, callback: Callback<AckFrame> | undefined): this
    /** Permanent listener for `message` events of this conversation. */
    receive(callback: Callback<MessageFrame>): this
    /** Permanent listener for `receipt` events of this conversation. */
    receipt(callback: Callback<ReceiptFrame>): this
    /** Argument count decides: with 1 argument it is the callback. */
    log(callback?: Callback<LogItem[]>): this
    log(options: LogOptions, callback: Callback<LogItem[]> | undefined): this
    /** The members; `undefined` for a transient conversation, `[]` when not found. */
    list(callback: Callback<string[] | undefined>): this
    count(callback: Callback<number>): this
    /** `conv update {attr: data}`, e.g. `{name, attr}`. */
    update(data: Record<string, unknown>, callback?: Callback<UpdatedFrame>): this
  }

  interface Cache {
    /** `peerId` is the `clientId` option (or, leanrt, the id an anonymous client was given). */
    options: {
      appId: string
      peerId: string | undefined
      encodeHTML: boolean
      auth: AuthFunction | undefined
      secure: boolean
      region: 'cn' | 'us'
      server?: string
      router?: string
    }
    /**
     * The socket: the injected WebSocket class's current instance, or on the native
     * transport a {@link NativeSocket}; `close()` on either forces a reconnect. With an
     * injected class it is `undefined` until its first instance exists.
     */
    ws: NativeSocket | WebSocketLike | undefined
    ec: EventCenter
    conv: Record<string, RoomObject>
    /** Set by the first `session opened`; `close()` leaves it set. */
    openFlag: boolean
    closeFlag: boolean
    reuseFlag: boolean
    /** The last serial id used (the first is 2016; after 999999 comes 2015). */
    serialId: number
    authFun: AuthFunction | undefined
    [key: string]: unknown
  }

  interface RealtimeObject {
    /** The `clientId` option, never updated. */
    clientId: string | undefined
    cache: Cache
    open(callback?: Listener<OpenFrame>): this
    /** Throws `Must call after open() has successed.` before the first open. */
    close(): this
    /**
     * leanrt's addition: stops the client for good, opened or not. After the first
     * open it does what `close()` does; before it, it stops the reconnect attempts.
     */
    destroy(): this
    /** Several names may be given, separated by whitespace. */
    on<K extends keyof EventMap>(names: K, callback: Listener<EventMap[K]>): this
    on(names: string, callback: Listener<any>): this
    /** Once-listeners run after the regular ones, and `off` cannot remove them. */
    once<K extends keyof EventMap>(names: K, callback: Listener<EventMap[K]>): this
    once(names: string, callback: Listener<any>): this
    /** Removes the first identical registration on exactly `name`. */
    off<K extends keyof EventMap>(name: K, callback: Listener<EventMap[K]>): this
    off(name: string, callback?: Listener<any>): this
    emit<K extends keyof EventMap>(name: K, data?: EventMap[K]): this
    emit(name: string, data?: unknown): this
    /** Fetches a conversation (`null` to the callback when not found); a cached RoomObject is reused. */
    room(id: string, callback?: Callback<RoomObject | null>): RoomObject
    /** Creates a conversation (leanrt: `room(callback)` works too). */
    room(options: RoomOptions | Callback<RoomObject>, callback?: Callback<RoomObject>): RoomObject
    conv(id: string, callback?: Callback<RoomObject | null>): RoomObject
    conv(options: RoomOptions | Callback<RoomObject>, callback?: Callback<RoomObject>): RoomObject
    /** Argument count decides: with 1 argument it is the callback. */
    query(callback?: Callback<ConversationInfo[]>): this
    /** (An options object alone would be taken for the callback, so the callback is required here.) */
    query(options: QueryOptions, callback: Callback<ConversationInfo[]> | undefined): this
    /** The online ones among the given clientIds. */
    ping(clientIds: string | string[], callback: Callback<string[]>): this
  }

  interface EventCenter {
    on(names: string, fn: (data: any) => void): this
    once(names: string, fn: (data: any) => void): this
    /** Calls the regular listeners, then the once-listeners; returns the event center. */
    emit(name: string, data?: unknown): this
    off(name: string, fn: (data: any) => void): this
    /** Adds `fn` unless a listener with the same source text is registered. */
    _one(names: string, fn: (data: any) => void): void
  }

  interface AjaxOptions {
    url: string
    /** Default `'get'`. */
    method?: string
    /** Sent as `JSON.stringify(data)`. */
    data?: unknown
  }

  interface Tool {
    /** `cb(null, parsedJson)` on 2xx, else `cb(parsedJson)`; leanrt: `cb(error)` on network or parse errors. */
    ajax(options: string | AjaxOptions, callback: (error: any, data?: any) => void): void
    /** Deep (recursing into plain objects and arrays) when the first argument is `true`. */
    extend<T>(deep: boolean, target: T, ...sources: unknown[]): T
    extend<T>(target: T, ...sources: unknown[]): T
    eventCenter(): EventCenter
    noop(): void
    /** `/^\{.*\}$/` */
    isJSONString(value: unknown): boolean
    now(): number
    /** Strings: `&`, `<`, `>` escaped; objects: encoded recursively in place and returned. */
    encodeHTML<T>(value: T): T
  }

  /** `rt.cache.ws` on the native transport. */
  interface NativeSocket {
    /** 0 connecting, 1 open, 2 closing, 3 closed, following the engine's socket. */
    readonly readyState: 0 | 1 | 2 | 3
    /** Sends a raw text frame (held while offline). */
    send(text: string): void
    /** Closes the socket; the client recovers as after a lost one (`close`, `reuse`, `open`). */
    close(): void
    addEventListener(name: 'open' | 'close' | 'message', listener: (event: SocketEvent) => void): void
    removeEventListener(name: 'open' | 'close' | 'message', listener: (event: SocketEvent) => void): void
    on(name: 'open' | 'close' | 'message', listener: (event: SocketEvent) => void): this
    off(name: 'open' | 'close' | 'message', listener: (event: SocketEvent) => void): this
  }

  /** What `NativeSocket` listeners receive: `data` (a frame's JSON text) for `message`, `code`/`reason` for `close`. */
  interface SocketEvent {
    type: 'open' | 'close' | 'message'
    data?: string
    code?: number
    reason?: string
  }

  interface Engine {
    /** Decodes a received `msg` (§7.2). */
    getMediaMsg(cache: { options: { encodeHTML?: boolean } }, msg: unknown): MessageBody | undefined
    /** Encodes `send(data, {type})` (§7.1); `undefined` for an unknown type. */
    setMediaMsg(cache: unknown, type: string, data: MediaData): string | undefined
    /** The next serial id of a RealtimeObject's cache. */
    getSerialId(cache: { serialId: number }): number
    /** Sends a frame as the RealtimeObject (`peerId` added); patching it sees every frame, `session open` included. */
    wsSend(cache: Cache, data: Record<string, unknown>): void
    /** Emits a frame under its `cmd[-op]` name; `data` is the frame's JSON text (or, from leanrt itself, the parsed frame). */
    wsMessage(cache: Cache, event: { data: string | Record<string, unknown> }): void
    /** leanrt: stops (`true`) or resumes (`false`) reading the socket. */
    pause(cache: Cache, paused: boolean): void
    [name: string]: unknown
  }
}

interface Realtime {
  /** Throws `realtime need a argument at least.` and `Options must have appId.` */
  (options: realtime.Options, callback?: (this: realtime.EventCenter, frame: realtime.OpenFrame) => void): realtime.RealtimeObject
  /** leanrt's own version (2.4.0 reports `'2.4.0'`). */
  version: string
  /** A shallow, module-global merge (undefined values skipped). */
  config(config: realtime.Config): void
  realtime: Realtime
  _tool: realtime.Tool
  _engine: realtime.Engine
}

declare const realtime: Realtime

export = realtime
