/* kernels/dvren_train.h - per-element code of dvren's training operations
 * (single source: compiled by the C compiler into dvren.h's CPU loops and
 * by NVRTC into the GPU's training kernels). Float32 storage, float32
 * arithmetic except where noted.
 *
 *   losses      dvren_loss_elem: value and derivative of L2, L1, Huber
 *   TV          dvren_tv_voxel: a voxel's term of the total variation and
 *               the gradient it gathers from every term that reads it
 *   optimizers  dvren_adam_elem, dvren_sgd_elem: one parameter element
 *
 * dvren.h carries a generated copy (">>train begin/end"); edit this file
 * and run `./build.sh gen`. */
#ifndef DVREN_TRAIN_H
#define DVREN_TRAIN_H

/* Loss kinds (dvren_loss_kind). */
#define DVREN__LOSS_L2 0u
#define DVREN__LOSS_L1 1u
#define DVREN__LOSS_HUBER 2u

/* rho(e) of one residual e = prediction - target, and d rho / d e. */
DVREN_FN float dvren_loss_elem(uint32_t kind, float delta, float e, float* d)
{
    float a = dvren_absf(e);
    if (kind == DVREN__LOSS_L1) {
        *d = e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f);
        return a;
    }
    if (kind == DVREN__LOSS_HUBER) {
        if (a < delta) {
            *d = e / delta;
            return 0.5f * e * e / delta;
        }
        *d = e > 0.0f ? 1.0f : -1.0f;
        return a - 0.5f * delta;
    }
    *d = 2.0f * e;
    return e * e;
}

/* Total variation over a (Z, Y, X, C) grid x, channel c, voxel (i, j, k)
 * (x, y, z indices). The term of voxel u is
 *   s_u = sqrt(eps + dx_u^2 + dy_u^2 + dz_u^2)     (squared: dx^2 + dy^2 + dz^2)
 * with dx_u = x[u + e_x] - x[u] (0 on the far face). Returns s_v and puts in
 * *g the derivative of sum_u s_u with respect to x[v]: from s_v itself and
 * from s_{v - e_x}, s_{v - e_y}, s_{v - e_z}, each recomputed here, so every
 * voxel writes only its own gradient (no atomics). */
#define DVREN_TV_EPS 1e-8f
DVREN_FN void dvren__tv_diffs(const float* x, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c, uint32_t i,
                              uint32_t j, uint32_t k, float* dx, float* dy, float* dz)
{
    uint64_t v = (((uint64_t)k * Y + j) * X + i) * C + c;
    float xv = x[v];
    *dx = i + 1 < X ? x[v + C] - xv : 0.0f;
    *dy = j + 1 < Y ? x[v + (uint64_t)X * C] - xv : 0.0f;
    *dz = k + 1 < Z ? x[v + (uint64_t)X * Y * C] - xv : 0.0f;
}

DVREN_FN float dvren_tv_voxel(const float* x, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c, uint32_t i,
                              uint32_t j, uint32_t k, uint32_t squared, float* g)
{
    float dx, dy, dz, s, q, r;
    dvren__tv_diffs(x, X, Y, Z, C, c, i, j, k, &dx, &dy, &dz);
    q = dx * dx + dy * dy + dz * dz;
    if (squared) {
        s = q;
        r = -2.0f * (dx + dy + dz);
    } else {
        s = sqrtf(DVREN_TV_EPS + q);
        r = -(dx + dy + dz) / s;
    }
    /* the terms of the three lower neighbours read x[v] as their "+e" value */
    if (i > 0) {
        float ax, ay, az;
        dvren__tv_diffs(x, X, Y, Z, C, c, i - 1, j, k, &ax, &ay, &az);
        r += squared ? 2.0f * ax : ax / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);
    }
    if (j > 0) {
        float ax, ay, az;
        dvren__tv_diffs(x, X, Y, Z, C, c, i, j - 1, k, &ax, &ay, &az);
        r += squared ? 2.0f * ay : ay / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);
    }
    if (k > 0) {
        float ax, ay, az;
        dvren__tv_diffs(x, X, Y, Z, C, c, i, j, k - 1, &ax, &ay, &az);
        r += squared ? 2.0f * az : az / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);
    }
    *g = r;
    return s;
}

/* Adam (Kingma and Ba, ICLR 2015, Algorithm 1) for one element, in the
 * arrangement of torch.optim.Adam: m, v the moments; bc1 = 1 - beta1^t,
 * sbc2 = sqrt(1 - beta2^t) for step t >= 1; weight decay adds wd * x to g. */
DVREN_FN void dvren_adam_elem(float* x, float* m, float* v, float g, float lr, float beta1, float beta2, float eps,
                              float wd, float bc1, float sbc2)
{
    float mm, vv;
    if (wd != 0.0f) g += wd * *x;
    mm = beta1 * *m + (1.0f - beta1) * g;
    vv = beta2 * *v + (1.0f - beta2) * g * g;
    *m = mm;
    *v = vv;
    *x -= (lr / bc1) * mm / (sqrtf(vv) / sbc2 + eps);
}

/* SGD with momentum (torch.optim.SGD: buf = momentum buf + g; x -= lr buf;
 * the first step starts the buffer at g, which buf = 0 gives as well). */
DVREN_FN void dvren_sgd_elem(float* x, float* buf, float g, float lr, float momentum, float wd)
{
    float b;
    if (wd != 0.0f) g += wd * *x;
    b = momentum * *buf + g;
    *buf = b;
    *x -= lr * b;
}

#endif /* DVREN_TRAIN_H */
