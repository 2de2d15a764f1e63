"""Known behaviour of the learner families: closed forms and published facts.

Each test runs many agents of one family as independent replications on a
small bandit, with fixed seeds and explicit tolerances (sources in
each test's docstring).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import simulator
from simulator import IncentiveGame, IncentiveModel


def play_bandit(
    learner,
    means: np.ndarray,
    rounds: int,
    rng: np.random.Generator,
    *,
    noise: float = 0.0,
    bernoulli: bool = False,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """Play ``rounds`` rounds of a stationary bandit; returns the actions, shape (rounds, n)."""
    n = learner.n_agents
    out = np.empty((rounds, n), dtype=np.int32)
    for t in range(rounds):
        a = learner.act(offsets)
        if bernoulli:
            r = (rng.random(n) < means[a]).astype(np.float64)
        else:
            r = means[a] + noise * rng.standard_normal(n)
        learner.update(a, r)
        out[t] = a
    return out


# ---------------------------------------------------------------- UCB1


def test_ucb1_regret_grows_logarithmically() -> None:
    """Auer, Cesa-Bianchi & Fischer (2002): pseudo-regret O(log T) on a Bernoulli bandit.

    Regret at nested horizons T = 256 .. 8192 (UCB1 is an anytime rule, so one run
    gives every horizon), averaged over 400 independent agents. A log T curve adds
    a constant per doubling of T; sqrt(T) would multiply the increment by 1.41 per
    doubling and linear regret by 2.
    """
    means = np.array([0.1, 0.9])
    gap = means.max() - means
    delta = gap.max()
    n, horizon = 400, 8192
    lr = simulator.make_learner("ucb1", n, 2, rng=np.random.default_rng(11), prior_weight=0.0, c=1.0)
    actions = play_bandit(lr, means, horizon, np.random.default_rng(12), bernoulli=True)
    cum = np.cumsum(gap[actions].mean(axis=1))
    ts = 2 ** np.arange(8, 14)
    regret = cum[ts - 1]

    # sublinear: regret / T shrinks at every horizon
    assert np.all(np.diff(regret / ts) < 0)
    # logarithmic: about the same increment per doubling of T
    incr = np.diff(regret)
    assert incr.min() > 0
    assert incr.max() / incr.min() < 1.3, incr
    # a fit in log T explains the curve far better than a fit in T or in sqrt T
    sse = {}
    for name, x in {"log": np.log(ts), "lin": ts.astype(float), "sqrt": np.sqrt(ts)}.items():
        design = np.vstack([x, np.ones_like(x)]).T
        coef, res = np.linalg.lstsq(design, regret, rcond=None)[:2]
        sse[name] = float(res[0])
        if name == "log":
            slope = coef[0]
    assert sse["log"] < 0.05 * sse["lin"], sse
    assert sse["log"] < 0.2 * sse["sqrt"], sse
    # the slope lies between Lai & Robbins' lower bound Delta / KL and Auer et al.'s 8 / Delta
    kl = means[0] * math.log(means[0] / means[1]) + (1 - means[0]) * math.log((1 - means[0]) / (1 - means[1]))
    assert delta / kl < slope < 8 / delta, slope
    # and Auer et al.'s finite-time bound holds at every horizon
    bound = 8 * np.log(ts) / delta + (1 + math.pi**2 / 3) * delta
    assert np.all(regret <= bound)


def test_ucb1_tries_every_arm_first_without_prior() -> None:
    """With prior_weight 0 an untried arm has an infinite index: the first K rounds try each arm once."""
    n, k = 300, 4
    lr = simulator.make_learner("ucb1", n, k, rng=np.random.default_rng(0), prior_weight=0.0)
    actions = play_bandit(lr, np.array([0.1, 0.9, 0.5, 0.3]), k, np.random.default_rng(1), noise=1.0)
    assert_array_equal(np.sort(actions, axis=0), np.tile(np.arange(k)[:, None], (1, n)))


# ------------------------------------------------------- epsilon-greedy


def test_epsilon_greedy_best_arm_frequency() -> None:
    """Asymptotically the best arm is played with frequency 1 - eps (K - 1) / K (Sutton & Barto ch. 2)."""
    eps, k = 0.15, 3
    means = np.array([1.0, 0.5, 0.0])
    n = 2000
    lr = simulator.make_learner("epsilon_greedy", n, k, rng=np.random.default_rng(21), epsilon=eps)
    actions = play_bandit(lr, means, 300, np.random.default_rng(22), noise=0.5)
    late = actions[200:]
    expected = 1 - eps * (k - 1) / k
    assert abs((late == 0).mean() - expected) < 0.01
    # each worse arm gets its share eps / K of the exploration
    assert_allclose([(late == 1).mean(), (late == 2).mean()], eps / k, atol=0.006)
    # and the greedy action of (almost) every agent is the best arm: probs 1 - eps + eps / K on it
    probs = lr.action_probs()
    assert np.median(probs[:, 0]) == pytest.approx(1 - eps + eps / k, abs=1e-6)


def test_epsilon_decay_schedule() -> None:
    """Exploration at round t happens with probability epsilon / (1 + decay t)."""
    n, k, eps, decay = 40_000, 4, 0.6, 0.5
    # a fixed, known greedy arm: a huge prior weight keeps the estimates at the prior
    lr = simulator.make_learner(
        "epsilon_greedy",
        n,
        k,
        rng=np.random.default_rng(5),
        epsilon=eps,
        epsilon_decay=decay,
        initial_values=[1.0, 0.0, 0.0, 0.0],
        prior_weight=1e9,
    )
    for t in range(21):
        a = lr.act()
        if t in (0, 4, 20):
            eps_t = eps / (1 + decay * t)
            non_greedy = (a != 0).mean()
            sd = math.sqrt(eps_t * (k - 1) / k / n)
            assert abs(non_greedy - eps_t * (k - 1) / k) < 5 * sd, (t, non_greedy)
            assert_allclose(lr.action_probs()[0], [1 - eps_t + eps_t / k] + [eps_t / k] * 3, rtol=1e-6)
        lr.update(a, np.zeros(n))


# ------------------------------------------------------------- Thompson


def test_thompson_concentrates_on_best_arm() -> None:
    """Gaussian Thompson sampling puts almost all play on the best arm, more so over time."""
    means = np.array([0.0, 0.5, 0.2])
    n = 1000
    lr = simulator.make_learner("thompson", n, 3, rng=np.random.default_rng(31), sigma=1.0)
    actions = play_bandit(lr, means, 400, np.random.default_rng(32), noise=1.0)
    best = (actions == 1).mean(axis=1)
    assert best[:10].mean() < 0.6
    assert best[-50:].mean() > 0.93
    assert best[-50:].mean() > best[100:150].mean() > best[:10].mean()
    assert lr.action_probs()[:, 1].mean() > 0.93
    # posterior means have converged to the truth where played most
    assert abs(np.median(lr.estimates[:, 1]) - 0.5) < 0.05


# ------------------------------------------------------------ pessimism


def test_pessimistic_greedy_never_tries_arm_noise_free() -> None:
    """Pessimism: with noise-free rewards, a greedy agent never tries an arm whose prior
    is below the other arm's true mean (and below that arm's prior); with the prior above the other
    arm's true mean it does try it and stays there."""
    n = 400
    rng = np.random.default_rng(41)
    true_means = np.array([1.0, 2.0])  # arm 1 is better
    pessimistic = np.arange(n) < n // 2
    prior1 = np.where(pessimistic, rng.uniform(-3.0, 0.99, n), rng.uniform(1.05, 1.5, n))
    prior0 = prior1 + rng.uniform(0.01, 1.5, n)  # arm 0 looks better at the start
    model = IncentiveModel(
        n_agents=n,
        n_actions=2,
        learner="epsilon_greedy",
        learner_params={"epsilon": 0.0, "initial_values": np.stack([prior0, prior1], axis=1)},
        game=IncentiveGame(payoff_means=true_means, noise=0.0),
        seed=3,
        max_agent_views=0,
    )
    tried = np.zeros(n, dtype=bool)
    for _ in range(200):
        model.step()
        tried |= model.last_actions == 1
    assert not tried[pessimistic].any()
    assert tried[~pessimistic].all()
    assert (model.last_actions[~pessimistic] == 1).all()


def test_pessimism_lowers_discovery_frequency_with_noise() -> None:
    """With noisy rewards, the share of greedy agents that ever try the better arm falls with pessimism.

    Arm 0 pays N(1, 0.5^2) and its prior is its true mean 1 (weight 1); arm 1 (better) has prior
    1 - gap. After the first pull of arm 0 its estimate is N(1, 0.25^2), so at least
    Phi(-gap / 0.25) of the agents switch to arm 1 in round 2.
    """
    from scipy.stats import norm

    n, rounds = 2000, 100
    gaps = (0.05, 0.25, 0.5, 2.5)
    shares = []
    for gap in gaps:
        lr = simulator.make_learner(
            "epsilon_greedy",
            n,
            2,
            rng=np.random.default_rng(51),
            epsilon=0.0,
            initial_values=[1.0, 1.0 - gap],
        )
        actions = play_bandit(lr, np.array([1.0, 2.0]), rounds, np.random.default_rng(52), noise=0.5)
        assert (actions[0] == 0).all()
        shares.append((actions == 1).any(axis=0).mean())
    assert np.all(np.diff(shares) < 0), shares
    first_round = norm.cdf(-np.array(gaps) / 0.25)
    assert np.all(np.array(shares) >= first_round - 3 * np.sqrt(first_round * (1 - first_round) / n)), shares
    assert shares[-1] < 0.005


# ---------------------------------------------------------- value updates


def test_sample_average_with_prior_pseudo_observations() -> None:
    """q = (prior_weight * initial + sum of rewards) / (prior_weight + count) (closed form)."""
    n, k = 50, 3
    rng = np.random.default_rng(61)
    pw = rng.uniform(0.0, 4.0, n)
    init = rng.normal(size=(n, k))
    lr = simulator.make_learner(
        "softmax", n, k, rng=np.random.default_rng(62), temperature=0.5, initial_values=init, prior_weight=pw
    )
    sums = np.zeros((n, k))
    counts = np.zeros((n, k))
    for _ in range(30):
        a = lr.act()
        r = rng.normal(size=n)
        lr.update(a, r)
        np.add.at(sums, (np.arange(n), a), r)
        np.add.at(counts, (np.arange(n), a), 1)
    expected = (pw[:, None] * init + sums) / (pw[:, None] + counts)
    expected = np.where(counts > 0, expected, init)
    assert_allclose(lr.estimates, expected, rtol=1e-4, atol=1e-5)
    assert_array_equal(lr.counts, counts)


def test_constant_learning_rate_is_exponential_recency_weighting() -> None:
    """With step alpha: q_n = (1 - alpha)^n q_0 + sum_i alpha (1 - alpha)^(n - i) r_i (Sutton & Barto 2.5)."""
    n, alpha = 20, 0.3
    lr = simulator.make_learner(
        "epsilon_greedy",
        n,
        2,
        rng=np.random.default_rng(0),
        epsilon=0.0,
        initial_values=[5.0, -1e3],  # always arm 0
        learning_rate=alpha,
    )
    rewards = np.random.default_rng(1).normal(size=(25, n))
    for r in rewards:
        lr.update(lr.act(), r)
    powers = (1 - alpha) ** np.arange(24, -1, -1)
    expected = (1 - alpha) ** 25 * 5.0 + alpha * (powers[:, None] * rewards).sum(axis=0)
    assert_allclose(lr.estimates[:, 0], expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ EWA


@pytest.mark.parametrize("phi", [1.0, 0.8])
def test_ewa_delta0_rho0_is_cumulative_reinforcement(phi: float) -> None:
    """Camerer & Ho (1999): delta = 0, rho = 0 gives A_j(t) = phi A_j(t-1) + 1[j chosen] payoff
    (N(t) = 1 from the first round on); with phi = 1, the plain sum of the payoffs received."""
    n, k = 100, 3
    rng = np.random.default_rng(71)
    init = rng.normal(size=(n, k))
    lr = simulator.make_learner(
        "ewa",
        n,
        k,
        rng=np.random.default_rng(72),
        delta=0.0,
        rho=0.0,
        phi=phi,
        precision=2.0,
        initial_values=init,
        prior_weight=1.0,
    )
    expected = init.copy()
    for _ in range(40):
        a = lr.act()
        r = rng.normal(0.5, 1.0, n)
        lr.update(a, r)
        expected *= phi
        expected[np.arange(n), a] += r
    assert_allclose(lr.estimates, expected, rtol=1e-4, atol=1e-4)


def test_logit_precision_limits() -> None:
    """McKelvey & Palfrey (1995): precision 0 is uniform choice, a huge precision is the best response."""
    n, k = 5, 4
    values = np.array([0.3, 1.2, -0.5, 1.1])
    flat = simulator.make_learner("ewa", n, k, rng=np.random.default_rng(0), precision=0.0, initial_values=values)
    assert_allclose(flat.action_probs(), 1 / k, atol=1e-12)
    sharp = simulator.make_learner("ewa", n, k, rng=np.random.default_rng(0), precision=1e4, initial_values=values)
    assert_allclose(sharp.action_probs(), np.tile([0, 1, 0, 0], (n, 1)), atol=1e-12)
    # softmax: P(j) proportional to exp(q_j / temperature), offsets added to the scores
    soft = simulator.make_learner("softmax", n, k, rng=np.random.default_rng(0), temperature=0.5, initial_values=values)
    off = np.array([0.0, -1.0, 0.5, 0.2])
    w = np.exp((values + off) / 0.5)
    assert_allclose(soft.action_probs(off), np.tile(w / w.sum(), (n, 1)), rtol=1e-6)


def test_best_response_argmax_and_ties() -> None:
    """best_response picks argmax(means + offsets); exact ties are split uniformly."""
    n = 20_000
    means = np.array([1.0, 2.0, 2.0, 0.0])
    lr = simulator.make_learner("best_response", n, 4, rng=np.random.default_rng(0), means=means)
    a = lr.act()
    assert set(np.unique(a)) == {1, 2}
    assert abs((a == 1).mean() - 0.5) < 0.02
    assert_allclose(lr.action_probs()[0], [0, 0.5, 0.5, 0])
    off = np.array([0.0, 0.0, -0.1, 2.5])  # a posted subsidy on action 3 makes it the best
    assert (lr.act(off) == 3).all()


# ------------------------------------------------------------ Roth-Erev


def test_roth_erev_probabilities_stay_valid_with_negative_rewards() -> None:
    """Taxes make payoffs negative: reinforcement is floored at 0 and propensities at 1e-30,
    so probabilities stay a distribution (Erev & Roth 1998)."""
    n, k = 500, 3
    rng = np.random.default_rng(81)
    lr = simulator.make_learner("roth_erev", n, k, rng=np.random.default_rng(82), phi=0.5, experimentation=0.1)
    tax = np.array([-3.0, -3.0, -3.0])
    for _ in range(200):
        a = lr.act(tax)
        lr.update(a, rng.normal(1.0, 0.5, n))  # private reward ~1 minus a posted tax of 3
    probs = lr.action_probs()
    assert np.isfinite(probs).all()
    assert (probs >= 0).all() and (probs <= 1).all()
    assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert (lr.estimates > 0).all()
    assert_allclose(lr.estimates, 1e-30, rtol=1e-6)  # everything forgotten, nothing reinforced
    assert_allclose(probs, 1 / k, atol=1e-6)
    a = lr.act()
    assert ((a >= 0) & (a < k)).all()
    # shifting the floor below the payoffs restores learning: the best action wins
    lr2 = simulator.make_learner(
        "roth_erev", n, k, rng=np.random.default_rng(83), phi=0.1, experimentation=0.05, reward_floor=-5.0
    )
    for _ in range(200):
        a = lr2.act(tax)
        lr2.update(a, np.array([1.0, 2.0, 0.0])[a] + rng.normal(0.0, 0.1, n))
    assert lr2.action_probs()[:, 1].mean() > 0.5


def test_roth_erev_full_spillover_stops_learning() -> None:
    """Erev & Roth (1998): with experimentation e = (K - 1) / K every action gets R / K whichever was
    chosen, so nothing is learned about which action pays: from equal propensities the choice stays
    uniform, while a small e learns the paying action."""
    n, k = 500, 4
    pays = np.array([0.0, 3.0, 0.0, 0.5])
    final = {}
    for e in ((k - 1) / k, 0.1):
        lr = simulator.make_learner(
            "roth_erev", n, k, rng=np.random.default_rng(91), phi=0.2, experimentation=e, initial_values=1.0
        )
        rng = np.random.default_rng(92)
        for _ in range(60):
            a = lr.act()
            lr.update(a, pays[a] + rng.uniform(0.0, 0.1, n))
        final[e] = lr.action_probs()
    assert_allclose(final[(k - 1) / k], 1 / k, atol=1e-6)
    assert final[0.1][:, 1].mean() > 0.6


def test_roth_erev_posted_offset_reinforces_chosen_action() -> None:
    """A posted subsidy reaches a reinforcement learner only through experience: R = reward + offset."""
    lr = simulator.make_learner(
        "roth_erev", 1, 2, rng=np.random.default_rng(0), phi=0.0, experimentation=0.0, initial_values=1.0
    )
    a = lr.act(np.array([2.0, 2.0]))
    lr.update(a, np.array([0.5]))
    expected = np.array([1.0, 1.0])
    expected[a[0]] += 0.5 + 2.0
    assert_allclose(lr.estimates[0], expected, rtol=1e-6)


# ------------------------------------------------- act samples action_probs

FAMILY_PARAMS = {
    "epsilon_greedy": {"epsilon": 0.3},
    "ucb1": {"c": 0.5},
    "thompson": {"sigma": 0.7},
    "softmax": {"temperature": 0.4},
    "ewa": {"precision": 1.5, "delta": 0.3},
    "roth_erev": {"phi": 0.1},
    "best_response": {"means": [0.2, 0.5, 0.1], "temperature": 0.3},
}


@pytest.mark.parametrize("family", sorted(FAMILY_PARAMS))
def test_act_samples_from_action_probs(family: str) -> None:
    """Empirical choice frequencies of identical agents match action_probs (5 standard errors)."""
    n, k = 40_000, 3
    lr = simulator.make_learner(
        family, n, k, rng=np.random.default_rng(101), **FAMILY_PARAMS[family], **_init_kw(family)
    )
    # the same experience for every agent, so every agent has the same probabilities
    for a0, r0 in [(0, 0.4), (1, 0.9), (2, -0.2), (1, 0.3)]:
        lr.update(np.full(n, a0), np.full(n, r0))
    off = np.array([0.1, -0.2, 0.15])
    probs = lr.action_probs(off)
    assert_allclose(probs, np.tile(probs[0], (n, 1)), atol=1e-12)
    freq = np.bincount(lr.act(off), minlength=k) / n
    se = np.sqrt(probs[0] * (1 - probs[0]) / n) + 1e-12
    tol = 5 * se + (0.004 if family == "thompson" else 0.0)  # the normal table is cut at about +-4 sd
    assert np.all(np.abs(freq - probs[0]) <= tol), (freq, probs[0])


def _init_kw(family: str) -> dict:
    return {} if family == "best_response" else {"initial_values": [0.1, 0.0, 0.2] if family != "roth_erev" else 1.0}


def test_ucb1_without_bonus_is_greedy_even_with_a_tiny_prior_weight() -> None:
    """c = 0 is plain greedy: an untried arm whose n_eff is a denormal prior weight must not get
    0 * inf = NaN as its index (found by the hypothesis search)."""
    lr = simulator.make_learner("ucb1", 1, 2, rng=np.random.default_rng(1), c=0.0, prior_weight=1e-45)
    for r in (5.0, 7.0, 6.0):
        lr.update(np.array([1]), np.array([r]))
    assert_array_equal(lr.action_probs(), [[0.0, 1.0]])
    assert lr.act()[0] == 1
