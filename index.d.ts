// Types for leanrt: the leancloud-realtime 2.4.0 API (protocol.md §7–§8).

declare namespace realtime {
  /** What `auth` is asked to sign (§6.10). */
  interface AuthParams {
    clientId: string | undefined
    /** `conv start`, `add` and `remove`. */
    members?: string[]
    /** `add` and `remove`. */
    convId?: string
    action?: 'invite' | 'kick'
  }

  /** An approval; anything without `signature` denies. */
  interface AuthResult {
    signature: string
    nonce: string
    /** Normally UTC seconds; sent as given. */
    timestamp: number | string
  }

  type AuthFunction = (params: AuthParams, callback: (result?: AuthResult | null) => void) => void

  interface Options {
    appId: string
    /** The peerId; anonymous when absent (the server assigns one). */
    clientId?: string
    /** Escape `&`, `<`, `>` in received text. Default false. */
    encodeHTML?: boolean
    /** The signature function. */
    auth?: AuthFunction
    /** Ask the router for `wss://` URLs. Default true. */
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

  /** Every server frame carries these; other fields depend on `cmd`/`op`. */
  interface Frame {
    cmd: string
    op?: string
    i?: number
    peerId?: string
    [key: string]: unknown
  }

  interface OpenFrame extends Frame {
    cmd: 'session'
    op: 'opened'
  }

  interface StartedFrame extends Frame {
    cid: string
    cdate?: string
  }

  interface MembershipFrame extends Frame {
    cid: string
    initBy?: string
    /** `members-joined` / `members-left`. */
    m?: string[]
  }

  interface AckFrame extends Frame {
    uid?: string
    t?: number
    code?: number
    reason?: string
  }

  interface ReceiptFrame extends Frame {
    cid: string
    id: string
    t: number
  }

  interface ErrorFrame extends Frame {
    code: number
    reason: string
  }

  /** A decoded `_lc*` media message (§7.2). */
  interface MediaMessage {
    type: 'text' | 'image' | 'audio' | 'video' | 'location' | 'file'
    text?: string
    attr?: Record<string, unknown>
    url?: string
    metaData?: Record<string, unknown>
    location?: { longitude: number; latitude: number }
  }

  /** A received message: plain text, a media message, or the parsed JSON object. */
  type MessageBody = string | MediaMessage | Record<string, unknown>

  interface MessageFrame extends Frame {
    cmd: 'direct'
    cid: string
    id: string
    fromPeerId: string
    timestamp: number
    msg: MessageBody
    transient?: boolean
    offline?: boolean
  }

  interface LogItem {
    from: string
    fromPeerId: string
    data: MessageBody
    msg: MessageBody
    timestamp: number
    msgId: string
    ackAt?: number
  }

  /** A conversation as `query` returns it (§6.2). */
  interface ConversationInfo {
    objectId: string
    c?: string
    m?: string[]
    name?: string
    attr?: Record<string, unknown>
    tr?: boolean
    unique?: boolean
    lm?: { __type: 'Date'; iso: string }
    createdAt?: string
    updatedAt?: string
    msg?: string
    msg_from?: string
    msg_mid?: string
    msg_timestamp?: number
    [key: string]: unknown
  }

  interface CloseEvent {
    type: 'close'
    code: number
    reason: string
    wasClean: boolean
  }

  /** Engine errors (router, socket, frames held too long) carry `frame` when a send was dropped. */
  interface EngineError extends Error {
    frame?: Frame
  }

  interface EventMap {
    open: OpenFrame
    close: CloseEvent
    reuse: undefined
    create: StartedFrame
    invited: MembershipFrame
    kicked: MembershipFrame
    membersjoined: MembershipFrame
    membersleft: MembershipFrame
    join: MembershipFrame
    left: MembershipFrame
    message: MessageFrame
    receipt: ReceiptFrame
    error: EngineError | ErrorFrame | undefined
  }

  type Listener<T> = (data: T) => void

  interface RoomOptions {
    name?: string
    members?: string[]
    attr?: Record<string, unknown>
    transient?: boolean
    unique?: boolean
  }

  interface SendOptions {
    type?: 'text' | 'image' | 'audio' | 'video' | 'location' | 'file'
    receipt?: boolean
    transient?: boolean
  }

  /** `send(data, {type})`: what each media type reads. */
  interface MediaData {
    text?: string
    attr?: Record<string, unknown>
    url?: string
    objectId?: string
    metaData?: Record<string, unknown>
  }

  interface LogOptions {
    /** Upper bound, ms, exclusive. */
    t?: number
    /** With `t`: the message id bound. */
    mid?: string
    /** Default 20 (0 also means 20). */
    limit?: number
    /** Another conversation's id. */
    cid?: string
  }

  interface QueryOptions {
    where?: Record<string, unknown>
    sort?: string
    limit?: number
    skip?: number
    compact?: boolean
    withLastMessages?: boolean
  }

  interface RoomObject {
    id: string
    name?: string
    attr: Record<string, unknown>
    add(clientIds: string | string[], callback?: Listener<MembershipFrame>): this
    remove(clientIds: string | string[], callback?: Listener<MembershipFrame>): this
    join(callback?: Listener<MembershipFrame>): this
    leave(callback?: Listener<MembershipFrame>): this
    send(data: unknown, callback: Listener<AckFrame>): this
    send(data: unknown, options: SendOptions, callback?: Listener<AckFrame>): this
    receive(callback: Listener<MessageFrame>): this
    receipt(callback: Listener<ReceiptFrame>): this
    log(callback: Listener<LogItem[]>): this
    log(options: LogOptions, callback: Listener<LogItem[]>): this
    list(callback: Listener<string[] | undefined>): this
    count(callback: Listener<number>): this
    update(data: Record<string, unknown>, callback?: Listener<Frame>): this
  }

  interface Cache {
    options: Options & { peerId?: string }
    conv: Record<string, RoomObject>
    openFlag: boolean
    closeFlag: boolean
    reuseFlag: boolean
    serialId: number
    [key: string]: unknown
  }

  interface RealtimeObject {
    clientId: string | undefined
    cache: Cache
    open(callback?: Listener<OpenFrame>): this
    close(): this
    on<K extends keyof EventMap>(names: K, callback: Listener<EventMap[K]>): this
    on(names: string, callback: Listener<any>): this
    once<K extends keyof EventMap>(names: K, callback: Listener<EventMap[K]>): this
    once(names: string, callback: Listener<any>): this
    off<K extends keyof EventMap>(name: K, callback: Listener<EventMap[K]>): this
    off(name: string, callback: Listener<any>): this
    emit(name: string, data?: unknown): this
    room(id: string, callback?: (room: RoomObject | null) => void): RoomObject
    room(options: RoomOptions | ((room: RoomObject) => void), callback?: (room: RoomObject) => void): RoomObject
    conv(id: string, callback?: (room: RoomObject | null) => void): RoomObject
    conv(options: RoomOptions | ((room: RoomObject) => void), callback?: (room: RoomObject) => void): RoomObject
    query(callback?: Listener<ConversationInfo[]>): this
    query(options: QueryOptions, callback?: Listener<ConversationInfo[]>): this
    ping(clientIds: string | string[], callback: Listener<string[]>): this
  }

  interface EventCenter {
    on(names: string, fn: (data: any) => void): this
    once(names: string, fn: (data: any) => void): this
    emit(name: string, data?: unknown): this
    off(name: string, fn: (data: any) => void): this
  }

  interface Tool {
    extend<T>(target: T, ...sources: unknown[]): T
    extend<T>(deep: boolean, target: T, ...sources: unknown[]): T
    eventCenter(): EventCenter
    noop(): void
    isJSONString(value: unknown): boolean
    now(): number
    encodeHTML<T>(value: T): T
  }

  interface Engine {
    getMediaMsg(cache: Cache, msg: unknown): MessageBody
    setMediaMsg(cache: Cache, type: string, data: MediaData): string | undefined
    getSerialId(cache: Cache): number
    [name: string]: unknown
  }
}

interface Realtime {
  (options: realtime.Options, callback?: (frame: realtime.OpenFrame) => void): realtime.RealtimeObject
  /** leanrt's own version (2.4.0 reports `'2.4.0'`). */
  version: string
  config(config: realtime.Config): void
  realtime: Realtime
  _tool: realtime.Tool
  _engine: realtime.Engine
}

declare const realtime: Realtime

export = realtime
