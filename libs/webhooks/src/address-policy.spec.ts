import { classifyAddress, hostOf, vetAddresses } from './address-policy';

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'cloud-metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['198.18.0.1', 'reserved'],
  ])('classifies the IPv4 address %s as %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it.each([
    ['2606:4700:4700::1111', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'cloud-metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    ['100::1', 'reserved'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'cloud-metadata'],
    ['::ffff:a9fe:a9fe', 'cloud-metadata'],
    ['::ffff:100.64.0.1', 'cgnat'],
    ['0:0:0:0:0:ffff:192.168.0.1', 'private'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['::127.0.0.1', 'reserved'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:0808:0808::', 'public'],
    ['[::1]', 'loopback'],
  ])('classifies the IPv6 address %s as %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it('treats anything that is not an IP address as reserved', () => {
    expect(classifyAddress('localhost')).toBe('reserved');
    expect(classifyAddress('0x7f.1')).toBe('reserved');
    expect(classifyAddress('')).toBe('reserved');
  });
});

describe('hostOf', () => {
  it.each([
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://017700000001/', '127.0.0.1'],
    ['http://127.1:8080/hook', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://0xa9fea9fe/', '169.254.169.254'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ['https://[fd00:ec2::254]/', 'fd00:ec2::254'],
    ['https://hooks.example.com/x', 'hooks.example.com'],
  ])('reads %s as the host %s, which classification then sees through', (url, host) => {
    expect(hostOf(new URL(url))).toBe(host);
  });

  it('leaves no decimal, octal or hex spelling of loopback looking public', () => {
    for (const url of [
      'http://2130706433/',
      'http://0x7f.1/',
      'http://017700000001/',
      'http://[::ffff:7f00:1]/',
    ]) {
      expect(classifyAddress(hostOf(new URL(url)))).toBe('loopback');
    }
  });
});

describe('vetAddresses', () => {
  const publicAddress = { address: '93.184.216.34', family: 4 };
  const privateAddress = { address: '10.0.0.5', family: 4 };

  it('connects to a checked public address', () => {
    expect(vetAddresses('hooks.example.com', [publicAddress], false)).toEqual({
      allowed: true,
      address: publicAddress,
    });
  });

  it('refuses a host when any of its addresses is not public, naming the address and its class', () => {
    expect(vetAddresses('mixed.example.com', [publicAddress, privateAddress], false)).toEqual({
      allowed: false,
      reason: 'ssrf: mixed.example.com resolves to 10.0.0.5 (private)',
    });
  });

  it('lets a target allowed on private networks reach a private address', () => {
    expect(vetAddresses('intranet', [privateAddress], true)).toEqual({
      allowed: true,
      address: privateAddress,
    });
  });

  it('refuses a host that resolves to nothing', () => {
    expect(vetAddresses('nowhere', [], true)).toEqual({
      allowed: false,
      reason: 'ssrf: nowhere resolves to no address',
    });
  });
});
