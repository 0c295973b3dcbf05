"""SLaK-style dynamic sparse training for python/pelk_torch.py's PeLK (issue 15 step 3).

    masking = Masking(model, optimizer, sparsity=0.4, update_every=100, total_steps=T)
    masking.init("snip", loss=lambda m: F.cross_entropy(m(x0), y0))   # or "uniform", "resume"
    for each batch: loss.backward(); optimizer.step(); masking.step()
    model.export(path)                                                 # the masked weights: zeros

PeLK follows SLaK (paper Sec. 4: "Following SLaK, we also use dynamic sparsity ... 1.3x width, 40%
sparsity"). What this file follows, read in VITA-Group/SLaK (sparse_core.py at d21f6c4: SNIP,
CosineDecay, Masking; funcs.py: magnitude_prune, random_growth, gradient_growth; main.py; the
README's ImageNet commands):
  - which tensors: Masking.add_module masks every parameter with 2 or 4 dimensions, i.e. every conv
    and linear weight (stem, downsamples, the depthwise large and small kernels, fc1/fc2, head);
    biases, norms and layer scales (1-D) stay dense. Here: every parameter with >= 2 dimensions:
    stem, downsample convs, theta (the peripheral conv's [g,1,k'r,k'c]), conv.small.weight,
    fc1, fc2, head, and the kpe. theta is sparse as SLaK's depthwise large kernel is (it is 4-D
    and the conv's only weight); it is small (0.45 M of PeLK-T's 48.6 M) and one of its entries
    covers a whole grid region, so pruning one removes up to a region of the dense kernel's taps.
    The kpe [g,k,k] is 3-D here only because pelkc stores it without a singleton axis; in a
    kernel-shaped [g,1,k,k] layout SLaK's rule would mask it, and with it masked a 40%-sparse
    PeLK-T keeps 29.22 M of 48.65 M (the paper's 29 M); left dense it would keep 29.55 M.
  - the initial mask (add_module -> init(mode=args.sparse_init, density=1 - sparsity)): the README
    trains every SLaK model with --sparse_init snip: one batch, score |w * dL/dw| over all masked
    tensors, keep the global top density fraction, and take each layer's kept fraction as its
    density; the mask itself is random at that density. Layers that come out >= 99% dense are
    left dense (their masks dropped). "uniform" (every layer at the target density) and "resume"
    (mask = weight != 0, for continuing a sparse run) are SLaK's other modes. SLaK draws the
    random masks as Bernoulli(density); here each layer gets exactly round(density * n)
    positions, so densities are exact.
  - the topology update (Masking.step, truncate_weights, --method DST): after every optimizer
    step the mask is applied; every u = update_every steps, per layer, prune the
    ceil(p * nnz) smallest-|w| active weights (magnitude_prune) and regrow as many among the
    zero positions (the just-pruned included): "random" (random_growth; the README's --growth
    random for SLaK-T/S/B) or "gradient" (gradient_growth: largest |dL/dw|, RigL). Each layer's
    density is therefore constant. p follows CosineDecay(prune_rate, T_max = total steps,
    eta_min 0.005), stepped every optimizer step. SLaK-T: u = 2000, p = 0.5; SLaK-S/B: u = 100,
    p = 0.3 (the defaults here).
  Differences: SLaK's random growth draws Bernoulli(n / zeros), here exactly n positions; pruned
  weights are set to zero before regrowth, so a regrown connection always starts at 0 (in SLaK a
  weight pruned and regrown in the same update keeps its value); and the optimizer state of every
  masked-out weight is zeroed with the weight (SLaK zeroes SGD's momentum buffer; here every state
  tensor of the parameter's shape, e.g. AdamW's exp_avg and exp_avg_sq), so regrown weights also
  start with fresh moments.
"""

import copy
import math

import torch

INITS = ("snip", "uniform", "resume")
GROWTHS = ("random", "gradient")
ETA_MIN = 0.005  # SLaK's CosineDecay floor for the prune rate


def check_sparsity(s):
    """s as a float in [0, 1), or ValueError with a clear message."""
    try:
        v = float(s)
    except (TypeError, ValueError):
        raise ValueError(f"sparsity must be a number in [0, 1), got {s!r}") from None
    if not (0.0 <= v < 1.0):
        raise ValueError(f"sparsity must be in [0, 1) (the fraction of weights that are zero), got {s}")
    return v


def is_sparse(name, p):
    """Whether parameter `name` is masked: every weight with >= 2 dimensions (see the docstring)."""
    return p.dim() >= 2


def cosine_prune_rate(p0, step, total, eta_min=ETA_MIN):
    """SLaK's CosineDecay (torch's CosineAnnealingLR, T_max = total) after `step` steps."""
    if not total:
        return p0
    return eta_min + (p0 - eta_min) * (1 + math.cos(math.pi * min(step, total) / total)) / 2


def count_nonzero(model):
    """(non-zero values, all values) over the model's state_dict (what export writes)."""
    nz = total = 0
    for t in model.state_dict().values():
        nz += int(torch.count_nonzero(t))
        total += t.numel()
    return nz, total


class Masking:
    """Masks for the sparse parameters of model, kept at fixed per-layer densities while the
    topology changes every update_every steps. masks: name -> bool tensor (True: active)."""

    def __init__(self, model, optimizer, sparsity, prune_rate=0.3, update_every=100, total_steps=None,
                 growth="random", seed=0):
        self.sparsity = check_sparsity(sparsity)
        if self.sparsity == 0:
            raise ValueError("sparsity 0 is dense training: use no Masking")
        if growth not in GROWTHS:
            raise ValueError(f"growth must be one of {', '.join(GROWTHS)}, got {growth!r}")
        if not (0.0 <= prune_rate <= 1.0):
            raise ValueError(f"prune rate must be in [0, 1], got {prune_rate}")
        if int(update_every) < 1:
            raise ValueError(f"update_every must be >= 1, got {update_every}")
        self.model, self.optimizer = model, optimizer
        self.prune_rate0, self.update_every, self.growth = float(prune_rate), int(update_every), growth
        self.total_steps = total_steps
        self.gen = torch.Generator().manual_seed(seed)
        self.params = {n: p for n, p in model.named_parameters() if is_sparse(n, p)}
        self.masks = {}
        self.steps = 0
        self.updates = 0  # prune/regrow cycles done

    # ---- the initial mask ----

    def init(self, mode="snip", loss=None):
        """Draw the initial masks (mode: snip, needing loss(model) -> scalar on one batch; uniform;
        resume) and apply them. Returns self."""
        density = 1.0 - self.sparsity
        if mode == "uniform":
            keep = {n: round(density * p.numel()) for n, p in self.params.items()}
        elif mode == "snip":
            if loss is None:
                raise ValueError("snip needs loss(model): the loss on one batch")
            keep = self._snip_keep(density, loss)
        elif mode == "resume":
            self.masks = {n: (p.detach() != 0) for n, p in self.params.items()}
            keep = None
        else:
            raise ValueError(f"sparse init must be one of {', '.join(INITS)}, got {mode!r}")
        if keep is not None:
            self.masks = {n: self._random_mask(p, keep[n]) for n, p in self.params.items()}
        # as SLaK: layers that came out (nearly) dense are left dense, unmasked
        for n in [n for n, m in self.masks.items() if m.float().mean() >= 0.99]:
            del self.masks[n]
        self.apply()
        return self

    def _snip_keep(self, density, loss):
        """Per-layer kept counts from SNIP (SLaK sparse_core.SNIP), on a copy of the model so that
        neither its gradients nor its BatchNorm statistics change."""
        net = copy.deepcopy(self.model)
        net.zero_grad(set_to_none=True)
        loss(net).backward()
        named = dict(net.named_parameters())
        scores = {n: (named[n].detach() * named[n].grad).abs().flatten()
                  if named[n].grad is not None else torch.zeros(named[n].numel()) for n in self.params}
        flat = torch.cat(list(scores.values()))
        k = max(1, int(flat.numel() * density))
        threshold = torch.topk(flat, k, sorted=True).values[-1]
        return {n: int((s > threshold).sum()) for n, s in scores.items()}

    def _random_mask(self, p, keep):
        m = torch.zeros(p.numel(), dtype=torch.bool)
        m[torch.randperm(p.numel(), generator=self.gen)[:keep]] = True
        return m.reshape(p.shape).to(p.device)

    # ---- every step ----

    def apply(self):
        """Zero every masked-out weight and its optimizer state."""
        state = self.optimizer.state if self.optimizer is not None else {}
        with torch.no_grad():
            for n, m in self.masks.items():
                p = self.params[n]
                p.mul_(m)
                for v in state.get(p, {}).values():
                    if torch.is_tensor(v) and v.shape == p.shape:
                        v.mul_(m)

    def prune_rate(self):
        return cosine_prune_rate(self.prune_rate0, self.steps, self.total_steps)

    def step(self):
        """After optimizer.step(): apply the masks; every update_every steps, prune and regrow."""
        self.apply()
        self.steps += 1
        if self.steps % self.update_every == 0:
            self.prune_and_regrow()

    def prune_and_regrow(self):
        """One topology update at the current prune rate; per layer the number of active weights
        does not change. Returns {name: number pruned (= regrown)}."""
        rate, moved = self.prune_rate(), {}
        with torch.no_grad():
            for n, m in self.masks.items():
                p, flat = self.params[n], m.view(-1)
                nnz = int(flat.sum())
                n_move = min(math.ceil(rate * nnz), nnz)
                if n_move == 0:
                    moved[n] = 0
                    continue
                # prune: the n_move smallest |w| among the active weights
                score = p.detach().abs().view(-1).masked_fill(~flat, float("inf"))
                flat[torch.topk(score, n_move, largest=False).indices] = False
                p.view(-1)[~flat] = 0.0
                # regrow as many among the zeros (the just-pruned included)
                zeros = (~flat).nonzero().view(-1)
                if self.growth == "gradient" and p.grad is not None:
                    pick = torch.topk(p.grad.detach().abs().view(-1)[zeros], n_move).indices
                else:
                    pick = torch.randperm(zeros.numel(), generator=self.gen)[:n_move].to(zeros.device)
                flat[zeros[pick]] = True
                moved[n] = n_move
        self.apply()  # the new weights start at 0, with zeroed optimizer state
        self.updates += 1
        return moved

    # ---- reporting ----

    def densities(self):
        """name -> fraction of active weights."""
        return {n: float(m.float().mean()) for n, m in self.masks.items()}

    def nonzero(self):
        """(non-zero parameters, all parameters) of the model's trainable parameters."""
        nz = sum(int(torch.count_nonzero(p)) for p in self.model.parameters())
        return nz, sum(p.numel() for p in self.model.parameters())

    def summary(self):
        """One line: masked layers, the density of the masked weights, and the model's non-zeros."""
        masked = sum(m.numel() for m in self.masks.values())
        active = sum(int(m.sum()) for m in self.masks.values())
        nz, total = self.nonzero()
        return (f"sparse: {len(self.masks)} masked tensors, {active} of {masked} weights active "
                f"({active / max(1, masked) * 100:.1f}%); non-zero parameters {nz} of {total} "
                f"({nz / total * 100:.1f}%); prune rate {self.prune_rate():.3f}, "
                f"{self.updates} prune/regrow updates")
