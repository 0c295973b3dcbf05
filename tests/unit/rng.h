/* The unit tests' random numbers: xorshift32 (Marsaglia), reproducible from
 * the seed in rng (any nonzero value; a test may set it from its argv). */
#ifndef PELK_TEST_RNG_H
#define PELK_TEST_RNG_H

static unsigned rng = 2463534242u;

static unsigned next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* uniform in [-1, 1) */
static float frand(void) { return (float)(next_u32() >> 8) / 16777216.0f * 2.0f - 1.0f; }

/* uniform in [lo, hi] */
static int irand(int lo, int hi) { return lo + (int)(next_u32() % (unsigned)(hi - lo + 1)); }

#endif
