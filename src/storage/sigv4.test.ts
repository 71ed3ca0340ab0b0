import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { amzDate, canonicalQuery, EMPTY_SHA256, signV4, uriEncode } from './sigv4.js';

// The AWS SigV4 test suite (AWS General Reference, "Signature Version 4 test suite"): one
// access key, one instant, service "service".
const SUITE = {
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  scope: { region: 'us-east-1', service: 'service' },
  date: '20150830T123600Z',
  headers: { Host: 'example.amazonaws.com', 'X-Amz-Date': '20150830T123600Z' },
};

// The worked examples of the S3 API Reference, "Signature calculations for the Authorization
// header: Transferring payload in a single chunk" (note the secret differs from the suite's).
const S3_DOCS = {
  credentials: {
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  },
  scope: { region: 'us-east-1', service: 's3' },
  date: '20130524T000000Z',
};
const s3Headers = (payloadHash: string, extra: Record<string, string> = {}) => ({
  Host: 'examplebucket.s3.amazonaws.com',
  'x-amz-date': S3_DOCS.date,
  'x-amz-content-sha256': payloadHash,
  ...extra,
});

describe('AWS Signature Version 4', () => {
  const suite: [string, string, Record<string, string>, string][] = [
    ['get-vanilla', '/', {}, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    [
      'get-vanilla-query-order-key-case',
      '/',
      { Param2: 'value2', Param1: 'value1' },
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    ],
    [
      'get-utf8',
      `/${uriEncode('ሴ')}`,
      {},
      '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85',
    ],
  ];
  for (const [name, path, query, signature] of suite) {
    it(`matches the test suite's ${name}`, () => {
      const r = signV4(
        { method: 'GET', path, query, headers: SUITE.headers, payloadHash: EMPTY_SHA256 },
        SUITE.credentials,
        SUITE.scope,
        SUITE.date,
      );
      assert.equal(r.signature, signature);
      assert.equal(
        r.authorization,
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
          `SignedHeaders=host;x-amz-date, Signature=${signature}`,
      );
    });
  }

  it('matches the S3 example GET Object (a Range header is signed)', () => {
    const r = signV4(
      {
        method: 'GET',
        path: '/test.txt',
        headers: s3Headers(EMPTY_SHA256, { Range: 'bytes=0-9' }),
        payloadHash: EMPTY_SHA256,
      },
      S3_DOCS.credentials,
      S3_DOCS.scope,
      S3_DOCS.date,
    );
    assert.equal(r.signedHeaders, 'host;range;x-amz-content-sha256;x-amz-date');
    assert.equal(r.signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it('matches the S3 example PUT Object (payload hash, $ encoded in the key)', () => {
    const payload = createHash('sha256').update('Welcome to Amazon S3.').digest('hex');
    assert.equal(payload, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    const r = signV4(
      {
        method: 'PUT',
        path: `/${uriEncode('test$file.text', true)}`,
        headers: s3Headers(payload, {
          Date: 'Fri, 24 May 2013 00:00:00 GMT',
          'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        }),
        payloadHash: payload,
      },
      S3_DOCS.credentials,
      S3_DOCS.scope,
      S3_DOCS.date,
    );
    assert.match(r.canonicalRequest, /^PUT\n\/test%24file\.text\n/);
    assert.equal(r.signature, '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
  });

  it('matches the S3 example GET Bucket Lifecycle (a bare query name)', () => {
    const r = signV4(
      {
        method: 'GET',
        path: '/',
        query: { lifecycle: '' },
        headers: s3Headers(EMPTY_SHA256),
        payloadHash: EMPTY_SHA256,
      },
      S3_DOCS.credentials,
      S3_DOCS.scope,
      S3_DOCS.date,
    );
    assert.equal(r.signature, 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  });

  it('matches the S3 example Get Bucket (List Objects) (sorted query)', () => {
    const r = signV4(
      {
        method: 'GET',
        path: '/',
        query: { prefix: 'J', 'max-keys': '2' },
        headers: s3Headers(EMPTY_SHA256),
        payloadHash: EMPTY_SHA256,
      },
      S3_DOCS.credentials,
      S3_DOCS.scope,
      S3_DOCS.date,
    );
    assert.equal(r.signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });

  it('encodes the way AWS does, not the way encodeURIComponent does', () => {
    const cases: [string, boolean, string][] = [
      ["a!b'c(d)e*f", false, 'a%21b%27c%28d%29e%2Af'],
      ['a b+c', false, 'a%20b%2Bc'],
      ['A-z_0.9~', false, 'A-z_0.9~'],
      ['data/ab/cd', true, 'data/ab/cd'],
      ['data/ab/cd', false, 'data%2Fab%2Fcd'],
      ['ключ', false, '%D0%BA%D0%BB%D1%8E%D1%87'],
    ];
    for (const [text, keepSlash, want] of cases) assert.equal(uriEncode(text, keepSlash), want, text);
    assert.equal(
      canonicalQuery({ 'list-type': '2', prefix: 'r/data/', delete: '' }),
      'delete=&list-type=2&prefix=r%2Fdata%2F',
    );
  });

  it('formats x-amz-date without separators or milliseconds', () => {
    assert.equal(amzDate(new Date('2013-05-24T00:00:00.123Z')), '20130524T000000Z');
  });
});
