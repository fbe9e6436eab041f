import { z } from 'zod';
import { Problem } from './problem';
import { ZodValidationPipe } from './zod-validation.pipe';

const schema = z.strictObject({
  url: z.url(),
  filters: z.strictObject({ severities: z.array(z.enum(['info', 'warning', 'critical'])) }),
});

function problemOf(attempt: () => unknown): Problem {
  try {
    attempt();
  } catch (error) {
    return error as Problem;
  }
  throw new Error('expected a problem');
}

describe('ZodValidationPipe', () => {
  const pipe = new ZodValidationPipe(schema);

  it('returns the parsed value of valid input', () => {
    const value = { url: 'https://example.com/hook', filters: { severities: ['critical'] } };
    expect(pipe.transform(value, { type: 'body' })).toEqual(value);
  });

  it('answers 422 with a JSON Pointer to every invalid value', () => {
    const problem = problemOf(() =>
      pipe.transform({ url: 'nope', filters: { severities: ['info', 'loud'] } }, { type: 'body' }),
    );
    expect(problem).toBeInstanceOf(Problem);
    expect(problem.getStatus()).toBe(422);
    expect(problem.getResponse()).toMatchObject({
      errors: [
        { in: 'body', path: '/url', message: expect.any(String) },
        { in: 'body', path: '/filters/severities/1', message: expect.any(String) },
      ],
    });
  });

  it('points at each unknown key of a strict object', () => {
    const problem = problemOf(() =>
      pipe.transform(
        { url: 'https://example.com', filters: { severities: [], colour: 1 }, x: 1 },
        { type: 'body' },
      ),
    );
    expect(problem.getResponse()).toMatchObject({
      errors: [
        { in: 'body', path: '/filters/colour' },
        { in: 'body', path: '/x' },
      ],
    });
  });

  it('names a single parameter in the path when the pipe validates one', () => {
    const problem = problemOf(() =>
      new ZodValidationPipe(z.string().regex(/^t_/)).transform('x', { type: 'param', data: 'id' }),
    );
    expect(problem.getResponse()).toMatchObject({ errors: [{ in: 'param', path: '/id' }] });
  });
});
