// Types of `leanrt/promises` (promises.js): the 2.4.0 API of index.d.ts, awaitable.
/// <reference lib="es2018.asynciterable" />
import realtime = require('./index')

/** Any AbortSignal (Node's, the DOM's). */
export interface AbortSignalLike {
  readonly aborted: boolean
  readonly reason?: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/** Options every request takes (in its own options object, or as the last argument). */
export interface RequestOptions {
  /** ms until it rejects with 'TIMEOUT' (up to 2147483647, or `Infinity`). Default: `connect`'s. */
  timeout?: number
  /** Rejects with 'ABORTED' when it aborts (at once, nothing sent, when it has already). */
  signal?: AbortSignalLike
}

/** `realtime()`'s options, and the time limit and signal of the login. */
export interface ConnectOptions extends realtime.Options, RequestOptions {
  /** ms until `connect` rejects with 'TIMEOUT', and the default of the client's requests. Default 30000. */
  timeout?: number
}

export interface MessagesOptions {
  /** Ends the iteration: the next read rejects with 'ABORTED'. */
  signal?: AbortSignalLike
  /** Unread messages past which the socket is paused (resumed at half). Default 1000. */
  highWaterMark?: number
}

/** `room.send` options: the callback API's, with the request options. */
export interface SendOptions extends RequestOptions {
  /** Send `data` as a media message (§7.1). */
  type?: realtime.MediaType
  /** Ask for a receipt. */
  receipt?: boolean | number
  /** Not stored, never acked: resolves once handed to the connection. */
  transient?: boolean
}

export interface LogOptions extends RequestOptions {
  /** Upper bound (exclusive), ms. */
  t?: number
  /** With `t`: the message id bound. */
  mid?: string
  /** Default 20. */
  limit?: number
  /** Another conversation's id. */
  cid?: string
}

export type QueryOptions = Omit<realtime.QueryOptions, 'serialId' | 'flag'> & RequestOptions

export type RoomOptions = realtime.RoomOptions & RequestOptions

/** Local failure codes (the server's are numbers). */
export type LocalCode = 'TIMEOUT' | 'ABORTED' | 'CLOSED' | 'CONNECT_FAILED'

/** What every failed request or login rejects with (argument errors aside: those are realtime()'s own Errors). */
export declare class LeanrtError extends Error {
  constructor(
    code: number | LocalCode,
    message: string,
    fields?: { reason?: string; detail?: string; frame?: realtime.Frame; cause?: unknown },
  )
  /** The error a server frame carrying `code` and `reason` stands for. */
  static fromFrame(frame: realtime.Frame & { code: number; reason?: string; detail?: string }): LeanrtError
  name: 'LeanrtError'
  /** The server's code (4401, 4102, …), or a local one. */
  code: number | LocalCode
  /** The server's reason name (`INVALID_MESSAGING_TARGET`, …). */
  reason: string | undefined
  /** The server's detail, when it gave one. */
  detail: string | undefined
  /** The refusing frame: an error frame, an ack or a `session closed`. */
  frame: realtime.ErrorFrame | realtime.AckFrame | realtime.SessionClosedFrame | undefined
}

/** `for await (const m of rt.messages())`: the `message` events, in order. */
export interface MessageStream extends AsyncIterableIterator<realtime.MessageFrame> {
  /** Ends the iteration at once (what `break` calls); buffered messages are dropped. */
  return(): Promise<IteratorReturnResult<undefined>>
}

/** An awaitable RoomObject. */
export interface Room {
  /** The RoomObject underneath (the callback API). */
  readonly callbacks: realtime.RoomObject
  readonly id: string
  readonly name: string | undefined
  readonly attr: Record<string, unknown>
  /** Resolves once handed to the connection: transient messages get no ack. */
  send(data: unknown, options: SendOptions & { transient: true }): Promise<void>
  /** Resolves with the ack; an ack carrying `code` rejects. */
  send(data: unknown, options?: SendOptions & { transient?: false }): Promise<realtime.AckFrame>
  send(data: unknown, options: SendOptions): Promise<realtime.AckFrame | undefined>
  add(clientIds: string | string[], options?: RequestOptions): Promise<realtime.MembersChangedFrame>
  remove(clientIds: string | string[], options?: RequestOptions): Promise<realtime.MembersChangedFrame>
  join(options?: RequestOptions): Promise<realtime.MembersChangedFrame>
  leave(options?: RequestOptions): Promise<realtime.MembersChangedFrame>
  log(options?: LogOptions): Promise<realtime.LogItem[]>
  /** The members; `undefined` for a transient conversation. */
  list(options?: RequestOptions): Promise<string[] | undefined>
  count(options?: RequestOptions): Promise<number>
  update(data: Record<string, unknown>, options?: RequestOptions): Promise<realtime.UpdatedFrame>
}

/** An awaitable RealtimeObject, opened. */
export interface Realtime {
  /** The RealtimeObject underneath (the callback API). */
  readonly callbacks: realtime.RealtimeObject
  /** The clientId logged in with (for an anonymous client, the one the server gave). */
  readonly clientId: string | undefined
  /** The conversation, or `null` when there is none. */
  room(id: string, options?: RequestOptions): Promise<Room | null>
  /** Creates a conversation (with the defaults when no options are given). */
  room(options?: RoomOptions): Promise<Room>
  query(options?: QueryOptions): Promise<realtime.ConversationInfo[]>
  /** The online ones among the given clientIds. */
  ping(clientIds: string | string[], options?: RequestOptions): Promise<string[]>
  /** The `message` events as an async iterator; it ends with close(). */
  messages(options?: MessagesOptions): MessageStream
  /**
   * Closes for good; resolves once the socket is closed. Requests still waiting then
   * reject with 'CLOSED', later ones at once.
   */
  close(): Promise<void>
  on<K extends keyof realtime.EventMap>(names: K, listener: realtime.Listener<realtime.EventMap[K]>): this
  on(names: string, listener: realtime.Listener<any>): this
  once<K extends keyof realtime.EventMap>(names: K, listener: realtime.Listener<realtime.EventMap[K]>): this
  once(names: string, listener: realtime.Listener<any>): this
  off<K extends keyof realtime.EventMap>(name: K, listener: realtime.Listener<realtime.EventMap[K]>): this
  off(name: string, listener: realtime.Listener<any>): this
}

/** `realtime(options)`, resolved at its first `open` (see LeanrtError for the failures). */
export declare function connect(options: ConnectOptions): Promise<Realtime>
