import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import type { ResolvedAddress } from '@fleetlog/webhooks';
import { WebhookSender, type HostResolver, type WebhookRequest } from './webhook-sender';

/** A name no DNS server answers: a connection that looked it up itself would fail. */
const unresolvableHost = 'receiver.fleetlog.test';
const loopback: ResolvedAddress = { address: '127.0.0.1', family: 4 };
/** Unroutable: a connection there would hang until the attempt's timeout. */
const elsewhere: ResolvedAddress = { address: '10.255.255.1', family: 4 };

const servers: Array<Server | TcpServer> = [];
const senders: WebhookSender[] = [];

function sender(resolveHost?: HostResolver): WebhookSender {
  const made = new WebhookSender(resolveHost);
  senders.push(made);
  return made;
}

async function listen(server: Server | TcpServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  senders.splice(0).forEach((made) => made.close());
  await Promise.all(
    servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
});

/** An HTTP receiver on loopback that records the requests it gets and answers each with `answer`. */
async function receiver(answer: (request: IncomingMessage) => { status: number; location?: string }) {
  const requests: Array<{ method?: string; url?: string; host?: string }> = [];
  const server = createHttpServer((request, response) => {
    requests.push({ method: request.method, url: request.url, host: request.headers.host });
    request.resume();
    request.on('end', () => {
      const { status, location } = answer(request);
      response.writeHead(status, location ? { location } : {}).end();
    });
  });
  return { port: await listen(server), requests };
}

/** A resolver that answers `first` once and `later` afterwards, as a rebinding DNS server does. */
function rebindingResolver(first: ResolvedAddress[], later: ResolvedAddress[]) {
  const asked: string[] = [];
  const resolveHost: HostResolver = async (host) => {
    asked.push(host);
    return asked.length === 1 ? first : later;
  };
  return { resolveHost, asked };
}

const webhook = (url: string, allowPrivateNetwork = true): WebhookRequest => ({
  url,
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  allowPrivateNetwork,
  webhookId: 'msg_1',
  body: '{"type":"alert.raised"}',
});

describe('WebhookSender against hostile targets', () => {
  it('connects to the address it checked, however DNS answers afterwards (rebinding)', async () => {
    const { port, requests } = await receiver(() => ({ status: 204 }));
    const dns = rebindingResolver([loopback], [elsewhere]);

    const result = await sender(dns.resolveHost).send(
      webhook(`http://${unresolvableHost}:${port}/hook`),
      5_000,
    );

    expect(result).toEqual({ outcome: 'delivered', httpStatus: 204 });
    expect(dns.asked).toEqual([unresolvableHost]);
    expect(requests).toEqual([{ method: 'POST', url: '/hook', host: `${unresolvableHost}:${port}` }]);
  });

  it('refuses a host that resolves to a private address, before connecting', async () => {
    const { port, requests } = await receiver(() => ({ status: 204 }));
    const dns = rebindingResolver([{ address: '203.0.114.7', family: 4 }, loopback], [loopback]);

    const result = await sender(dns.resolveHost).send(
      webhook(`http://${unresolvableHost}:${port}/hook`, false),
      5_000,
    );

    expect(result).toEqual({ outcome: 'refused', error: expect.stringContaining('127.0.0.1') });
    expect(requests).toEqual([]);
  });

  it('fails on a redirect to a private address and never sends the request it points to', async () => {
    const { port, requests } = await receiver((request) =>
      request.url === '/hook'
        ? { status: 302, location: `http://127.0.0.1:${port}/internal/admin` }
        : { status: 200 },
    );

    const result = await sender().send(webhook(`http://127.0.0.1:${port}/hook`), 5_000);

    expect(result).toEqual({
      outcome: 'failed',
      httpStatus: 302,
      error: 'HTTP 302 (redirects are not followed)',
    });
    expect(requests.map((request) => request.url)).toEqual(['/hook']);
  });

  it('gives up on a receiver that trickles its response headers forever (slow loris), and closes the connection', async () => {
    let connectionClosed!: () => void;
    const closed = new Promise<void>((resolve) => (connectionClosed = resolve));
    const port = await listen(
      createTcpServer((socket: Socket) => {
        socket.write('HTTP/1.1 200 OK\r\nx-padding: ');
        const trickle = setInterval(() => socket.write('a'), 20);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearInterval(trickle);
          connectionClosed();
        });
      }),
    );

    const result = await sender().send(webhook(`http://127.0.0.1:${port}/hook`), 300);

    expect(result).toEqual({ outcome: 'failed', error: 'timed out after 300 ms' });
    await closed;
  });

  it('vets every attempt, though a connection to the target is kept open', async () => {
    const { port, requests } = await receiver(() => ({ status: 204 }));
    const dns = rebindingResolver([loopback], [loopback]);
    const keeping = sender(dns.resolveHost);
    const url = `http://${unresolvableHost}:${port}/hook`;

    expect(await keeping.send(webhook(url), 5_000)).toEqual({ outcome: 'delivered', httpStatus: 204 });
    const refused = await keeping.send(webhook(url, false), 5_000);

    expect(refused).toEqual({ outcome: 'refused', error: expect.stringContaining('127.0.0.1') });
    expect(dns.asked).toEqual([unresolvableHost, unresolvableHost]);
    expect(requests).toHaveLength(1);
  });
});

describe('WebhookSender connections', () => {
  /** A receiver counting connections; `answer` decides per request, told how many this connection served before. */
  async function countingReceiver(answer: (servedBefore: number) => 'respond' | 'close') {
    const served = new Map<Socket, number>();
    let connections = 0;
    const server = createHttpServer((request, response) => {
      const before = served.get(request.socket) ?? 0;
      served.set(request.socket, before + 1);
      request.resume();
      request.on('end', () => {
        if (answer(before) === 'close') request.socket.destroy();
        else response.writeHead(204).end();
      });
    });
    server.on('connection', () => connections++);
    return {
      port: await listen(server),
      connections: () => connections,
      requests: () => [...served.values()],
    };
  }

  it('keeps the connection to a vetted address for the next webhook to the same target', async () => {
    const target = await countingReceiver(() => 'respond');
    const keeping = sender();

    for (let attempt = 0; attempt < 3; attempt++)
      expect(await keeping.send(webhook(`http://127.0.0.1:${target.port}/hook`), 5_000)).toEqual({
        outcome: 'delivered',
        httpStatus: 204,
      });

    expect(target.connections()).toBe(1);
    expect(target.requests()).toEqual([3]);
  });

  it('sends again on a new connection when the receiver closed the kept one as the request went out', async () => {
    const target = await countingReceiver((servedBefore) => (servedBefore === 0 ? 'respond' : 'close'));
    const keeping = sender();
    const url = `http://127.0.0.1:${target.port}/hook`;

    await keeping.send(webhook(url), 5_000);
    const result = await keeping.send(webhook(url), 5_000);

    expect(result).toEqual({ outcome: 'delivered', httpStatus: 204 });
    expect(target.connections()).toBe(2);
  });
});
