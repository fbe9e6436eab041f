import { Socket, connect } from 'node:net';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';

const produceApiKey = 0;

/**
 * A kafkajs socket factory that can lose the broker's answer to one produce request, as when a broker dies between
 * writing a batch and answering: the broker really has the records, the client only sees its connection reset. It
 * then refuses new connections until told otherwise, as a broker that is down, so that kafkajs runs out of
 * reconnect attempts and gives the send up.
 */
export class AnswerDroppingSockets {
  private dropping = false;
  private refusing = false;

  /** A client on these sockets, with few reconnect attempts, so kafkajs gives a send up soon, not after minutes. */
  kafka(brokers: string[]): Kafka {
    return new Kafka({
      brokers,
      socketFactory: this.factory,
      retry: { initialRetryTime: 100, retries: 1 },
      logLevel: logLevel.NOTHING,
    });
  }

  dropNextProduceAnswer(): void {
    this.dropping = true;
  }

  acceptConnections(): void {
    this.refusing = false;
  }

  readonly factory: ISocketFactory = ({ host, port, onConnect }) => {
    if (this.refusing) return refusedSocket(host, port);
    const socket = connect({ host, port }, onConnect);
    // Kafka frames: requests start with size, api key, api version, correlation id; answers with size, correlation id.
    const produceRequests = new Set<number>();
    const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      if (chunk.length >= 12 && chunk.readInt16BE(4) === produceApiKey)
        produceRequests.add(chunk.readInt32BE(8));
      return write(chunk, ...rest);
    }) as typeof socket.write;
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      const answer = args[0] as Buffer;
      if (
        event === 'data' &&
        this.dropping &&
        answer.length >= 8 &&
        produceRequests.has(answer.readInt32BE(4))
      ) {
        this.dropping = false;
        this.refusing = true;
        socket.destroy(new Error('read ECONNRESET (injected: the produce answer was dropped)'));
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    return socket;
  };
}

function refusedSocket(host: string, port: number): Socket {
  const socket = new Socket();
  setImmediate(() => socket.destroy(new Error(`connect ECONNREFUSED ${host}:${port} (injected)`)));
  return socket;
}
