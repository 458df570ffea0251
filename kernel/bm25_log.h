/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bm25_log.h - the natural logarithm BM25's idf needs (FORMAT.md 8.7), in
 * f64, equal bit for bit to the engine's Math.log (V8 uses fdlibm's
 * __ieee754_log, Sun Microsystems 1993). Written for VexFS from the
 * algorithm's description (design note of issue 12, 2.1): reduce x to
 * 2^k * (1 + f) with sqrt(2)/2 < 1 + f < sqrt(2), then
 * ln(1 + f) = 2s + s * R(s^2) with s = f / (2 + f), R a degree-14
 * minimax polynomial in s^2 (its seven coefficients are fdlibm's, which
 * the bit-for-bit equality needs), ln 2 split into a high and a low part.
 *
 * Floating point: include this only in a file compiled with SSE2 and
 * -ffp-contract=off (bm25_fpu.c), and call it only between
 * kernel_fpu_begin() and kernel_fpu_end(). No library call, no errno. The
 * host test src/kernel/bm25_log_test.ts compiles it with gcc and compares
 * it with Math.log.
 */
#ifndef _VEXFS_BM25_LOG_H
#define _VEXFS_BM25_LOG_H

/* High 32 bits of the IEEE 754 binary64 pattern of @x (sign included). */
static inline int vexfs_log_hi(double x)
{
	unsigned long long b;

	__builtin_memcpy(&b, &x, sizeof(b));
	return (int)(unsigned int)(b >> 32);
}

/* Low 32 bits of the pattern of @x. */
static inline unsigned int vexfs_log_lo(double x)
{
	unsigned long long b;

	__builtin_memcpy(&b, &x, sizeof(b));
	return (unsigned int)b;
}

/* @x with its high 32 bits replaced by @hi. */
static inline double vexfs_log_with_hi(double x, unsigned int hi)
{
	unsigned long long b;

	__builtin_memcpy(&b, &x, sizeof(b));
	b = ((unsigned long long)hi << 32) | (b & 0xffffffffULL);
	__builtin_memcpy(&x, &b, sizeof(x));
	return x;
}

/**
 * vexfs_log - natural logarithm of @x, as fdlibm's __ieee754_log rounds it
 * @x: any double
 *
 * Return: ln(x); -inf for +-0, NaN for x < 0 or NaN, +inf for +inf.
 */
static inline double vexfs_log(double x)
{
	/* ln 2 = ln2_hi + ln2_lo; ln2_hi has trailing zero bits */
	const double ln2_hi = 6.93147180369123816490e-01;
	const double ln2_lo = 1.90821492927058770002e-10;
	const double two54 = 1.80143985094819840000e+16;
	/* the minimax polynomial R(z) = z * (c1 + z * (c2 + ... z * c7)) */
	const double c1 = 6.666666666666735130e-01;
	const double c2 = 3.999999999940941908e-01;
	const double c3 = 2.857142874366239149e-01;
	const double c4 = 2.222219843214978396e-01;
	const double c5 = 1.818357216161805012e-01;
	const double c6 = 1.531383769920937332e-01;
	const double c7 = 1.479819860511658591e-01;
	int hx = vexfs_log_hi(x), k = 0, odd, even;
	unsigned int lx = vexfs_log_lo(x);
	double f, s, z, w, even_part, odd_part, r, half_f2, dk;
	int norm;

	if (hx < 0x00100000) {		/* subnormal, zero or negative */
		if (((hx & 0x7fffffff) | lx) == 0)
			return -1.0 / 0.0;	/* -inf */
		if (hx < 0)
			return (x - x) / 0.0;	/* NaN */
		k = -54;
		x *= two54;		/* scale a subnormal up */
		hx = vexfs_log_hi(x);
	}
	if (hx >= 0x7ff00000)		/* inf or NaN */
		return x + x;
	k += (hx >> 20) - 1023;
	hx &= 0x000fffff;
	/* choose the exponent so that 1 + f is within sqrt(2)/2 .. sqrt(2) */
	norm = (hx + 0x95f64) & 0x100000;
	x = vexfs_log_with_hi(x, (unsigned int)(hx | (norm ^ 0x3ff00000)));
	k += norm >> 20;
	f = x - 1.0;
	dk = (double)k;
	if ((0x000fffff & (2 + hx)) < 3) {	/* |f| < 2^-20: short series */
		if (f == 0.0) {
			if (k == 0)
				return 0.0;
			return dk * ln2_hi + dk * ln2_lo;
		}
		r = f * f * (0.5 - 0.33333333333333333 * f);
		if (k == 0)
			return f - r;
		return dk * ln2_hi - ((r - dk * ln2_lo) - f);
	}
	s = f / (2.0 + f);
	z = s * s;
	w = z * z;
	odd = hx - 0x6147a;
	even = 0x6b851 - hx;
	even_part = w * (c2 + w * (c4 + w * c6));
	odd_part = z * (c1 + w * (c3 + w * (c5 + w * c7)));
	r = odd_part + even_part;
	if ((odd | even) > 0) {		/* f not small: use f^2 / 2 */
		half_f2 = 0.5 * f * f;
		if (k == 0)
			return f - (half_f2 - s * (half_f2 + r));
		return dk * ln2_hi -
		       ((half_f2 - (s * (half_f2 + r) + dk * ln2_lo)) - f);
	}
	if (k == 0)
		return f - s * (f - r);
	return dk * ln2_hi - ((s * (f - r) - dk * ln2_lo) - f);
}

#endif /* _VEXFS_BM25_LOG_H */
