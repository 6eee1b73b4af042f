# %% [markdown] slideshow={"slide_type": "slide"}
# # 01 · Feature scaling: min-max, z-score, robust and power transforms
#
# A table's columns arrive in their own units. In scikit-learn's wine data, *proline* (mg/L) runs into the
# thousands while *hue* stays near 1. Anything that adds or compares numbers **across** columns (a distance
# in k-nearest neighbours or k-means, a penalty in ridge regression, a step of gradient descent) then treats
# one unit of proline like one unit of hue, and the largest column silently decides.
#
# Feature scaling fixes the units, one column at a time. In this notebook you will
#
# 1. meet four scalers (min-max, z-score, robust, power), each with its formula, a from-scratch version,
#    a check against scikit-learn, and what it preserves and what it breaks;
# 2. move outliers and skew with sliders and watch every scaler respond, side by side;
# 3. see how Box-Cox and Yeo-Johnson choose their exponent $\lambda$ by maximum likelihood;
# 4. measure why scaling matters (k-NN accuracy, gradient-descent steps) and what leakage costs;
# 5. write the scalers yourself, with automatic checks.
#
# Everything runs on datasets bundled with scikit-learn; nothing is downloaded.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · The problem: one column decides
#
# Five of wine's 13 features, in their own units. Compare the `std` column: proline varies by hundreds,
# hue and the phenols by tenths.

# %%
from sklearn import preprocessing
from sklearn.datasets import load_breast_cancer, load_wine

wine = load_wine()
X_wine, y_wine = wine.data, wine.target  # (178 samples, 13 features), 3 classes
wine_names = list(wine.feature_names)
for name in ("proline", "magnesium", "alcalinity_of_ash", "hue", "nonflavanoid_phenols"):
    column = X_wine[:, wine_names.index(name)]
    print(f"{name:21s} min {column.min():8.2f}   max {column.max():8.2f}   std {column.std():7.2f}")

# %% [markdown]
# The Euclidean distance between two samples sums squared differences over the columns. Over all pairs of
# wines, this is the share of that sum that comes from proline alone:

# %%
def proline_share(X):
    """Share of all pairwise squared distances contributed by the proline column."""
    squared = (X[:, None, :] - X[None, :, :]) ** 2  # (178, 178, 13): every pair, every feature
    return squared[..., wine_names.index("proline")].sum() / squared.sum()


print(f"proline's share of the squared distances: {proline_share(X_wine):.1%} (1 of 13 features)")

# %% [markdown]
# A nearest-neighbour classifier on these raw numbers is, in effect, a proline classifier. Section 7 measures
# what that costs. First, the four ways to put the columns on a common scale.
#
# Throughout, `X` has shape `(n_samples, n_features)` and **every statistic is computed per feature, over
# the samples** (`axis=0`): one minimum, mean or median per column.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Min-max scaling
#
# $$x' = \frac{x - \min(x)}{\max(x) - \min(x)} \qquad\text{or, into a range } [a, b]:\qquad
#   x' = a + (x - \min x)\,\frac{b - a}{\max x - \min x}$$
#
# From scratch, on six wines and two features (proline and hue):

# %%
X_small = X_wine[:6][:, [wine_names.index("proline"), wine_names.index("hue")]]  # (6, 2)
x_min = X_small.min(axis=0)  # (2,): one minimum per feature
x_max = X_small.max(axis=0)
X_minmax = (X_small - x_min) / (x_max - x_min)
print("before (proline, hue):", X_small, "after min-max:", X_minmax, sep="\n")

# %% [markdown]
# Proline in the hundreds and hue near 1 now share one scale: the smallest value of each column became 0,
# the largest 1. Check what we just did: each column runs from exactly 0 to exactly 1.

# %%
print("column minima:", X_minmax.min(axis=0), "  column maxima:", X_minmax.max(axis=0))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The package's `normviz.scaling.minmax_scale` is the same formula with scikit-learn's signature and care for
# awkward data. On all of wine it agrees with `sklearn.preprocessing.minmax_scale`:

# %%
ours = normviz.scaling.minmax_scale(X_wine)
print("normviz == scikit-learn:", np.allclose(ours, preprocessing.minmax_scale(X_wine), rtol=1e-7, atol=1e-7))
print("feature_range=(-1, 1):", normviz.scaling.minmax_scale(X_small, feature_range=(-1, 1))[:, 0])

# %% [markdown]
# Two awkward cases it handles as scikit-learn does on purpose. A **constant** feature has
# $\max - \min = 0$: instead of dividing 0 by 0, the range is replaced by 1, so the feature becomes 0.
# **NaN** values are ignored when the minimum and maximum are computed, and stay NaN:

# %%
awkward = np.array([[1.0, 5.0], [2.0, 5.0], [np.nan, 5.0], [4.0, 5.0]])  # feature 1 is constant
print(normviz.scaling.minmax_scale(awkward))
print("same as scikit-learn, NaN included:",
      np.array_equal(normviz.scaling.minmax_scale(awkward), preprocessing.minmax_scale(awkward), equal_nan=True))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What it preserves:** the shape of each feature's distribution and the ratios of differences within a
# feature (it is a straight-line map). The output is bounded.
#
# **What it breaks:** one extreme value sets $\max$ and squeezes everything else. Breast cancer's *area error*
# has a long right tail; here is where the middle 98% of its values land after min-max scaling:

# %%
cancer = load_breast_cancer()
cancer_names = list(cancer.feature_names)
area_error = cancer.data[:, cancer_names.index("area error")]  # (569,)
scaled = normviz.scaling.minmax_scale(area_error)
p1, p99 = np.percentile(scaled, [1, 99])
print(f"1st to 99th percentile after min-max: [{p1:.3f}, {p99:.3f}], {p99 - p1:.0%} of the range [0, 1]")

# %% [markdown]
# It also breaks **sparsity**: a zero becomes $-\min/(\max - \min)$, nonzero whenever $\min \neq 0$.
#
# **Use it when** a feature has natural bounds and no outliers (pixel intensities, percentages), or when the
# next step needs a bounded input.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Z-score (standardization)
#
# $$x' = \frac{x - \bar x}{\sigma}, \qquad \bar x = \frac1n\sum_i x_i, \qquad
#   \sigma = \sqrt{\frac1n \sum_i (x_i - \bar x)^2}$$
#
# The standard deviation is the **biased** one (divide by $n$), as NumPy's `std` and scikit-learn's
# `StandardScaler` compute it. From scratch:

# %%
mean = X_small.mean(axis=0)  # (2,): one mean per feature
std = X_small.std(axis=0)  # biased: ddof=0
X_z = (X_small - mean) / std
print("after z-score (proline, hue):", X_z, sep="\n")

# %% [markdown]
# Each value now says how many standard deviations it lies from its column's mean: the fourth wine's hue
# (0.86) is the odd one out, at -2.2. Check what we just did: every column has mean 0 and standard deviation 1.

# %%
print("column means:", X_z.mean(axis=0).round(12) + 0.0, "  column stds:", X_z.std(axis=0))

# %% [markdown] slideshow={"slide_type": "subslide"}
# `normviz.scaling.scale` (also available as `normviz.scaling.z_score`) against `sklearn.preprocessing.scale`:

# %%
ours = normviz.scaling.z_score(X_wine)
print("normviz == scikit-learn:", np.allclose(ours, preprocessing.scale(X_wine), rtol=1e-7, atol=1e-7))

# %% [markdown]
# A trap: pandas' `Series.std()` and PyTorch's `torch.std` divide by $n - 1$ by default (the "unbiased"
# estimate: `ddof=1` in pandas and NumPy, `correction=1` in PyTorch), while NumPy's `np.std` divides by $n$.
# On the six wines above, dividing by that standard deviation gives columns whose standard deviation is not 1
# but $\sqrt{(n-1)/n}$. (Batch norm meets the same two conventions in notebook 02.)

# %%
X_z_unbiased = (X_small - mean) / X_small.std(axis=0, ddof=1)
print(f"std after dividing by the ddof=1 std: {X_z_unbiased.std(axis=0)[0]:.4f} = sqrt(5/6) = {np.sqrt(5 / 6):.4f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What it preserves:** the shape of each distribution; every feature ends with mean 0 and standard
# deviation 1, so no column dominates a distance by its units alone.
#
# **What it breaks:** it is not bounded, and an outlier both inflates $\sigma$ and stays an outlier. Centering
# turns zeros into $-\bar x/\sigma$, so sparse data becomes dense (`with_mean=False` avoids that). Skew is
# untouched: a z-scored *area error* is exactly as lopsided as before. Its median sits below the mean (negative)
# and its largest value lies 11 standard deviations out:

# %%
z = normviz.scaling.z_score(area_error)
print(f"area error after z-score: min {z.min():.2f}, median {np.median(z):.2f}, max {z.max():.2f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Robust scaling
#
# $$x' = \frac{x - \operatorname{median}(x)}{q_{75}(x) - q_{25}(x)}$$
#
# The median and the interquartile range (IQR) describe the middle half of the data, which a few extreme
# values can barely move. From scratch:

# %%
median = np.median(X_small, axis=0)  # (2,): one median per feature
q25, q75 = np.percentile(X_small, [25, 75], axis=0)  # (2,) each
X_robust = (X_small - median) / (q75 - q25)
print("after robust scaling (proline, hue):", X_robust, sep="\n")

# %% [markdown]
# Look at the -12 in the hue column. Five of the six hues lie between 1.03 and 1.05, so hue's IQR is tiny,
# and the fourth wine's hue of 0.86 lands 12 IQRs below the median: robust scaling measures distances in units
# of the bulk, and an outlier stays an outlier. Check what we just did: each column now has median 0 and IQR 1.

# %%
q25_after, q75_after = np.percentile(X_robust, [25, 75], axis=0)
print("column medians:", np.median(X_robust, axis=0), "  IQRs:", q75_after - q25_after)
ours = normviz.scaling.robust_scale(X_wine)
print("normviz == scikit-learn:", np.allclose(ours, preprocessing.robust_scale(X_wine), rtol=1e-7, atol=1e-7))

# %% [markdown] slideshow={"slide_type": "subslide"}
# How much does **one** wild value move each scaler's statistics? Append a single *area error* 100 times the
# largest one to the 569 real values:

# %%
with_outlier = np.append(area_error, 100 * area_error.max())  # (570,)
for label, statistic in [
    ("range (min-max)", np.ptp),
    ("standard deviation (z-score)", np.std),
    ("IQR (robust)", lambda v: np.subtract(*np.percentile(v, [75, 25]))),
]:
    change = statistic(with_outlier) / statistic(area_error) - 1
    print(f"{label:30s} grows by {change:+9.1%}")

# %% [markdown]
# **What it preserves:** the scale of the bulk of the data, whatever the outliers do.
#
# **What it breaks:** the output is not bounded and the outliers are not removed; they stay far out, now
# measured in IQRs. Skew is untouched.
#
# **Use it when** a feature has outliers you want to keep but not let set the scale.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5 · All the scalers, side by side
#
# Two real breast-cancer features: *mean texture* (close to normal) and *area error* (skewed, with real
# outliers). The sliders **inject** outliers (in vermillion: a fraction of the samples moved a number of
# interquartile ranges above the median, in both features) and **add skew**. Each column shows one scaler:
# the full view on top, and underneath a zoom, with marginal histograms, framed on where the real samples lie
# *without* injected outliers. That frame stays fixed while you move the outlier sliders (only the skewness
# moves it), so whatever a scaler does to the real samples happens in front of you. The table under the
# figure says where the middle 98% of the real samples land. The last column, Yeo-Johnson, is a *power
# transform*, the subject of section 6: it bends each feature towards a normal shape with an exponent
# $\lambda$ fitted to the data, then z-scores it. For now, watch what it does; section 6 shows how.
#
# Try: raise *outlier magnitude* and watch min-max and z-score squeeze the real samples into a corner of their
# frame while robust scaling and Yeo-Johnson leave them where they were; raise *extra skewness* and see that
# only Yeo-Johnson changes the shape of the histograms.

# %% tags=["nbval-ignore-output"]
from normviz import scaling_explorers

scaling_explorers.make_scaler_comparison_explorer()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The explorer's numbers come from plain functions, so they can be checked without the sliders. Make 5% of
# the samples outliers, 60 IQRs out, and compare where the real samples' middle 98% of *area error* lands
# after each scaler, without and with those outliers:

# %%
pair = scaling_explorers.load_feature_pair("breast_cancer", ("mean texture", "area error"))
no_outliers = np.zeros(len(pair), dtype=bool)
distorted, is_outlier = scaling_explorers.distort_features(pair, outlier_magnitude=60, outlier_fraction=0.05)
for name in scaling_explorers.SCALER_NAMES:
    low0, high0 = scaling_explorers.middle_span(scaling_explorers.apply_scaler(name, pair), no_outliers)
    low, high = scaling_explorers.middle_span(scaling_explorers.apply_scaler(name, distorted), is_outlier)
    print(f"{name:12s} without: [{low0[1]:7.3f}, {high0[1]:7.3f}]   with: [{low[1]:7.3f}, {high[1]:7.3f}]"
          f"   width kept: {(high[1] - low[1]) / (high0[1] - low0[1]):4.0%}")

# %% [markdown]
# Min-max and z-score squeeze the real samples to a quarter and an eighth of their width: the outliers now set
# the maximum and the standard deviation. Robust scaling keeps 80%: 5% of the samples piled on one side still
# shift the quartiles a little. Yeo-Johnson re-fits its $\lambda$ and pulls the outliers in, so it keeps 91%,
# with a different shape. (Unscaled shows 101%, not 100%, only because the samples turned into outliers are
# no longer among the real ones.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6 · Power transforms: changing the shape
#
# The three scalers above are straight-line maps: they move and stretch a distribution but cannot change its
# shape. A **power transform** bends it, to make a skewed feature look more like a normal distribution.
#
# **Box-Cox** (Box & Cox, 1964), for positive data:
# $$\psi(x, \lambda) = \begin{cases} \dfrac{x^\lambda - 1}{\lambda} & \lambda \neq 0 \\[4pt]
#   \log x & \lambda = 0 \end{cases}$$
#
# $\lambda = 1$ only shifts the data, $\lambda = 0$ is the logarithm (the limit of the first line), and
# $\lambda < 1$ pulls in a long right tail. **Yeo-Johnson** (Yeo & Johnson, 2000) extends it to any real
# number: Box-Cox of $x + 1$ for $x \ge 0$, and a mirrored Box-Cox with power $2 - \lambda$ for $x < 0$.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Choosing $\lambda$ by maximum likelihood
#
# Assume $\psi(x, \lambda)$ is exactly normal, with its own mean and variance. Maximizing the likelihood of
# the *original* data over that mean and variance leaves a function of $\lambda$ alone (Box & Cox, 1964):
#
# $$\ell(\lambda) = -\frac{n}{2}\log \hat\sigma^2_\lambda + (\lambda - 1)\sum_{i=1}^n \log x_i$$
#
# where $\hat\sigma^2_\lambda$ is the biased variance of the transformed values. The first term rewards a
# narrow transformed distribution; the second is the log of the transformation's Jacobian, which stops
# $\lambda$ from cheating by shrinking everything. For Yeo-Johnson the same argument gives the same formula with
# its own Jacobian term, $(\lambda - 1)\sum_i \operatorname{sign}(x_i)\log(1 + |x_i|)$. Box-Cox from scratch, on
# a grid:

# %%
lambdas = np.linspace(-2, 2, 401)
log_likelihood = np.array([
    -len(area_error) / 2 * np.log(np.var(normviz.scaling.box_cox(area_error, lam)))
    + (lam - 1) * np.sum(np.log(area_error))
    for lam in lambdas
])
best_on_grid = lambdas[np.argmax(log_likelihood)]
print(f"best lambda on the grid: {best_on_grid:.2f}")

# %% [markdown]
# The package maximizes the same function with Brent's method (`normviz.scaling.fit_power_lambdas`, the
# curve itself is `normviz.scaling.power_log_likelihood`); scikit-learn's `PowerTransformer` finds the same
# $\lambda$:

# %%
(fitted,) = normviz.scaling.fit_power_lambdas(area_error, "box-cox")
sklearn_lambda = preprocessing.PowerTransformer(method="box-cox").fit(area_error.reshape(-1, 1)).lambdas_[0]
print(f"normviz: {fitted:.6f}   scikit-learn: {sklearn_lambda:.6f}")

# %% [markdown]
# Check what we just did: the skewness (third standardized moment; 0 for a symmetric distribution) before and
# after the transform with that $\lambda$:

# %%
def skewness(v):
    return np.mean(normviz.scaling.z_score(v) ** 3)


transformed = normviz.scaling.power_transform(area_error, "box-cox")  # the transform, then a z-score
print(f"skewness of area error: {skewness(area_error):.2f} before, {skewness(transformed):.2f} after")
print("normviz == scikit-learn on all 30 features (Yeo-Johnson):",
      np.allclose(normviz.scaling.power_transform(cancer.data), preprocessing.power_transform(cancer.data),
                  rtol=1e-7, atol=1e-7))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Move $\lambda$ yourself. Left, the transformed feature (z-scored) against the standard normal density;
# middle, a normal Q-Q plot (a normal sample lies on the line); right, the log-likelihood, its maximum marked.
# The menu offers other features of the same dataset and both transforms.

# %% tags=["nbval-ignore-output"]
scaling_explorers.make_lambda_explorer()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Box-Cox refuses data that is not strictly positive, and says where the problem is; Yeo-Johnson accepts it:

# %%
with_zero = cancer.data[:, [cancer_names.index("mean radius"), cancer_names.index("mean concavity")]]
try:
    normviz.scaling.power_transform(with_zero, "box-cox")
except ValueError as error:
    print("ValueError:", error)
print("Yeo-Johnson lambdas:", normviz.scaling.fit_power_lambdas(with_zero, "yeo-johnson").round(3))
concavity = with_zero[:, 1]
print(f"mean concavity ranges from {concavity.min():.2f} to {concavity.max():.2f}; measured in hundredths "
      f"(x 100), its Yeo-Johnson lambda is {normviz.scaling.fit_power_lambdas(100 * concavity, 'yeo-johnson')[0]:.3f}")

# %% [markdown]
# Mean concavity's $\lambda$ of about $-8$ is not a mistake. Yeo-Johnson transforms $x + 1$, and between 1 and
# 1.43 every power is almost a straight line, so only an extreme $\lambda$ bends it enough. Measured in
# hundredths, the same feature gets an ordinary $\lambda$. Unlike Box-Cox, Yeo-Johnson depends on the units of
# its input: question 6 at the end comes back to this.

# %% [markdown]
# **What it preserves:** the order of the values (the transform is increasing).
#
# **What it breaks:** straight-line relationships and the meaning of the units; the fitted $\lambda$ is
# itself estimated from data (so it must be fitted on the training split, like any scaler). Outliers still
# pull the fit.
#
# **Use it when** a feature is strongly skewed and the next step prefers roughly normal inputs (linear and
# Gaussian models, k-means, distances).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7 · Why scaling matters, in numbers
#
# **k-nearest neighbours** on wine, 5-fold cross-validation. The scaler is fitted on each training fold and
# applied to the held-out fold with `params.transform`, so no fold sees its test data:

# %%
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

scalers = {
    "none": None,
    "min-max": normviz.scaling.minmax_scale,
    "z-score": normviz.scaling.z_score,
    "robust": normviz.scaling.robust_scale,
    "Yeo-Johnson": normviz.scaling.power_transform,
}
folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(X_wine, y_wine))
for label, scaler in scalers.items():
    accuracies = []
    for train, test in folds:
        X_train, X_test = X_wine[train], X_wine[test]
        if scaler is not None:
            X_train, params = scaler(X_train, return_params=True)  # fit on the training fold only
            X_test = params.transform(X_test)  # apply the same statistics to the test fold
        knn = KNeighborsClassifier(n_neighbors=5).fit(X_train, y_wine[train])
        accuracies.append(knn.score(X_test, y_wine[test]))
    print(f"{label:12s} accuracy {np.mean(accuracies):.3f} (folds {min(accuracies):.2f} to {max(accuracies):.2f})")

# %% [markdown]
# Unscaled, k-NN reaches 0.663 (always guessing the largest class would give 0.399); every scaler lifts it
# above 0.94. The reason is the distance itself: after z-scoring, proline is one feature among 13.

# %%
print(f"largest class: {np.bincount(y_wine).max() / len(y_wine):.3f} of the wines")
print(f"proline's share of the squared distances after z-scoring: {proline_share(normviz.scaling.z_score(X_wine)):.1%}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Gradient descent** on least squares: predict wine's alcohol from the other 12 features (plus an
# intercept), with the fixed step $1/L$, where $L$ is the largest eigenvalue of the features' second-moment
# matrix (the loss's Hessian). On a quadratic loss any fixed step below $2/L$ converges; $1/L$ is the standard
# choice. How fast it converges depends on that matrix's condition number $\kappa$, the ratio of its largest to
# its smallest eigenvalue: a step small enough for the steepest direction crawls along the flattest one.
# Scaling changes $\kappa$:

# %%
def gradient_descent_steps(features, target, tolerance=1e-3, max_steps=20_000):
    """Steps until the loss gap to the optimum is below `tolerance` times the initial gap."""
    A = np.column_stack([np.ones(len(features)), features])  # (n, 1 + d): intercept first
    H = A.T @ A / len(A)  # the loss's Hessian
    step = 1 / np.linalg.eigvalsh(H).max()
    w_best = np.linalg.lstsq(A, target, rcond=None)[0]
    loss = lambda w: np.mean((A @ w - target) ** 2) / 2  # noqa: E731
    w = np.zeros(A.shape[1])
    gap0 = loss(w) - loss(w_best)
    for k in range(1, max_steps + 1):
        w = w - step * A.T @ (A @ w - target) / len(A)
        if loss(w) - loss(w_best) <= tolerance * gap0:
            return k, np.linalg.cond(H), 0.0
    return None, np.linalg.cond(H), (loss(w) - loss(w_best)) / gap0


alcohol, others = X_wine[:, 0], X_wine[:, 1:]
for label, scaler in scalers.items():
    features = others if scaler is None else scaler(others)
    steps, kappa, gap = gradient_descent_steps(features, alcohol)
    result = f"{steps:6d} steps" if steps else f"not converged in 20000 steps ({gap:.1%} of the gap left)"
    print(f"{label:12s} condition number {kappa:12.1f}   {result}")

# %% [markdown]
# Min-max scaling leaves $\kappa$ at 690.3, against z-score's 44.8. It differs from z-score in two ways, and
# both matter. Its columns all have positive means, so they point partly along the intercept's column of ones
# (they are not orthogonal to it); and it gives every column the same *range*, not the same standard deviation. The next cell separates the two: min-max
# followed by centring (subtracting each column's mean), and division by the standard deviation without
# centring. It counts steps to a tighter tolerance, $10^{-5}$ of the initial gap: nearly all of that gap is the
# intercept alone (the first line), so the looser tolerance above says more about finding the intercept than
# about the features.

# %%
def half_mse(residual):
    return np.mean(residual**2) / 2


A_raw = np.column_stack([np.ones(len(others)), others])
# min-max, centring and dividing by the std are per-column affine maps: same column span, same optimum
best = half_mse(A_raw @ np.linalg.lstsq(A_raw, alcohol, rcond=None)[0] - alcohol)
share = (half_mse(alcohol - alcohol.mean()) - best) / (half_mse(alcohol) - best)  # start: all weights 0
print(f"gap left once the intercept is the mean alcohol: {share:.2%} of the gap at the start")
minmax = normviz.scaling.minmax_scale(others)
variants = {
    "min-max": minmax,
    "min-max, centred": minmax - minmax.mean(axis=0),  # centred: orthogonal to the intercept's column
    "std only": others / others.std(axis=0),  # equal standard deviations, but not centred
    "z-score": normviz.scaling.z_score(others),  # both
}
for label, features in variants.items():
    steps, kappa, gap = gradient_descent_steps(features, alcohol, tolerance=1e-5)
    result = f"{steps:6d} steps" if steps else f"not converged in 20000 steps ({gap:.2%} of the gap left)"
    offset = np.abs(features.mean(axis=0) / features.std(axis=0)).max()  # a column's mean, in its own stds
    print(f"{label:16s} condition number {kappa:12.1f}   {result}   largest |mean| / std {offset:4.1f}")

# %% [markdown]
# Centring alone takes min-max from 690.3 to 228.4. Dividing by the standard deviation *without* centring is far
# worse (53655.0): each column keeps its raw mean measured in its own standard deviations (up to 8.7, last
# column), while min-max had shrunk that to at most 3.7. A column's offset from 0, in units of its spread, is
# what couples it to the intercept, so equal spreads alone do not help. Only centring and equal spreads
# together, which is what z-score does, reach 44.8, and the step counts follow the same order.
# Robust scaling (on the median) and Yeo-Johnson also centre their output and give the columns similar spreads,
# and they land close to z-score in the table above.

# %% [markdown] slideshow={"slide_type": "subslide"}
# Not every model cares. A decision tree splits on one feature at a time at a threshold, and an increasing map
# keeps the order of each feature's values, so the tree finds the same splits. On the same folds as the k-NN:

# %%
from sklearn.tree import DecisionTreeClassifier

for label, scaler in scalers.items():
    accuracies = []
    for train, test in folds:
        X_train, X_test = X_wine[train], X_wine[test]
        if scaler is not None:
            X_train, params = scaler(X_train, return_params=True)
            X_test = params.transform(X_test)
        tree = DecisionTreeClassifier(random_state=0).fit(X_train, y_wine[train])
        accuracies.append(tree.score(X_test, y_wine[test]))
    print(f"{label:12s} decision-tree accuracy {np.mean(accuracies):.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8 · Leakage: fit the scaler on the training split only
#
# A scaler **learns** from data: its minimum, mean, median, quantiles and $\lambda$ are fitted parameters.
# Fitting it on all the data before splitting lets the test set shape the training data, and the evaluation
# no longer measures what happens on data the model has never seen. The leak-free pattern:
#
# ```python
# X_train_scaled, params = normviz.scaling.minmax_scale(X_train, return_params=True)
# X_test_scaled = params.transform(X_test)      # the training split's min and max
# ```
#
# On unseen data, min-max output is **not** confined to $[0, 1]$. Fitted on all of wine, no value can fall
# outside; fitted on the training half, some test values do:

# %%
from sklearn.model_selection import train_test_split

X_train, X_test, y_train, y_test = train_test_split(X_wine, y_wine, test_size=0.5, random_state=0, stratify=y_wine)
X_all_scaled = normviz.scaling.minmax_scale(np.vstack([X_train, X_test]))  # leaky: test data in the fit
_, params = normviz.scaling.minmax_scale(X_train, return_params=True)
test_leaky, test_clean = X_all_scaled[len(X_train):], params.transform(X_test)
print(f"test values outside [0, 1]: {np.sum((test_leaky < 0) | (test_leaky > 1))} when fitted on all data, "
      f"{np.sum((test_clean < 0) | (test_clean > 1))} of {test_clean.size} when fitted on the training split")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Does the leak change the **measured accuracy**? 1-nearest-neighbour on wine, 100 random splits, with a
# small training set (3 wines per class) and with half of each class; the gap is leaky minus clean accuracy,
# with its standard error over the splits:

# %%
def one_nn_accuracy(X_tr, y_tr, X_te, y_te):
    """1-nearest-neighbour accuracy, written out: each test sample takes the label of the closest training one."""
    squared_distances = ((X_te[:, None, :] - X_tr[None, :, :]) ** 2).sum(axis=-1)  # (n_test, n_train)
    return np.mean(y_tr[squared_distances.argmin(axis=1)] == y_te)


def stratified_split(per_class, seed):
    """Indices of a random training split with `per_class` wines of each class (a share if < 1), and the rest."""
    rng = np.random.default_rng(seed)
    train = []
    for c in np.unique(y_wine):
        members = np.flatnonzero(y_wine == c)
        size = per_class if per_class >= 1 else int(per_class * len(members))
        train.extend(rng.choice(members, size=size, replace=False))
    train = np.array(train)
    return train, np.setdiff1d(np.arange(len(y_wine)), train)


def leakage_gap(scaler, per_class, repeats=100):
    leaky, clean = [], []
    X_all = scaler(X_wine)  # leaky: fitted once on all 178 wines, test splits included
    for seed in range(repeats):
        train, test = stratified_split(per_class, seed)
        leaky.append(one_nn_accuracy(X_all[train], y_wine[train], X_all[test], y_wine[test]))
        X_tr_scaled, fitted = scaler(X_wine[train], return_params=True)  # clean: training statistics only
        clean.append(one_nn_accuracy(X_tr_scaled, y_wine[train], fitted.transform(X_wine[test]), y_wine[test]))
    gap = np.array(leaky) - np.array(clean)
    return len(train), np.mean(leaky), np.mean(clean), gap.mean(), gap.std(ddof=1) / np.sqrt(repeats)


for label in ("robust", "min-max"):
    for per_class in (3, 0.5):
        n_train, leaky, clean, gap, se = leakage_gap(scalers[label], per_class)
        print(f"{label:8s} {n_train:3d} training wines: leaky {leaky:.3f}, clean {clean:.3f}, "
              f"gap {100 * gap:+.1f} ± {100 * se:.1f} points")

# %% [markdown]
# Read the numbers honestly. With 9 training wines, statistics fitted on all 178 are far better than those of
# the training set, and the leaky evaluation is optimistic: by about one point for min-max and by several for
# robust scaling, whose quartiles are the noisiest statistics of 3 samples per class. With half of each class
# for training, the gap shrinks to a tenth of a point, the size of its own noise.
#
# What keeps this leak small is that a scaler never sees the labels: the test samples can only change the
# statistics of the features, not which features look related to the class. Hastie, Tibshirani & Friedman
# (section 7.10.2) draw the line there. A step that ignores the labels can be done before the data are split
# into folds without the gross bias they demonstrate; a step that uses them, such as keeping the features most
# correlated with the labels, must be fitted inside each training fold, or a classifier of pure noise can look
# accurate. Fitting the scaler on the training split is still the habit to keep: with few training samples the gap above is real, and a deployed
# model only ever sees training statistics.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9 · Exercises
#
# Fill in each function and run its cell: the checker runs it on several inputs (a constant feature, an
# outlier, negative values...) and says precisely what is wrong, or that it is right.
# `normviz.exercises.hint(name)` gives a nudge; `normviz.exercises.reveal(name)` prints a solution.
#
# **Exercise 1.** Min-max scale each feature (column) of `X` to $[0, 1]$. A constant feature must become 0,
# not NaN.

# %%
def my_minmax_scale(X):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("minmax_scale", my_minmax_scale)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 2.** Z-score each feature: subtract its mean, divide by its (biased) standard deviation; a
# constant feature becomes 0.

# %%
def my_zscore_scale(X):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("zscore_scale", my_zscore_scale)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 3.** Robust-scale each feature: subtract its median, divide by its interquartile range (use 1
# where the IQR is 0). Take the quartiles as `np.percentile(X, [25, 75], axis=0)` computes them (linear
# interpolation between samples, as scikit-learn's `RobustScaler` does); other quartile conventions give other
# numbers on small samples.

# %%
def my_robust_scale(X):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("robust_scale", my_robust_scale)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 4.** The Box-Cox transform of a positive array `x` for one `lmbda`, including $\lambda = 0$.

# %%
def my_box_cox(x, lmbda):
    raise NotImplementedError  # replace this line with your code


normviz.exercises.check("box_cox", my_box_cox)

# %% [markdown]
# To see a solution, remove the `#` in front of a line below and run the cell:

# %% tags=["nbval-ignore-output"]
# normviz.exercises.reveal("minmax_scale")
# normviz.exercises.reveal("zscore_scale")
# normviz.exercises.reveal("robust_scale")
# normviz.exercises.reveal("box_cox")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Further questions (answers below them, folded):
#
# 5. In section 4 the IQR still changed a little when one value was appended, although that value is far
#    outside the middle half. Why? (Hint: which sorted positions are the 25th and 75th percentiles when $n$
#    grows by one?)
# 6. Which of the four methods give the same k-NN result if a feature is measured in other units
#    ($x \to a x + b$ with $a > 0$)? Which would change if $a < 0$?
# 7. Fit `PowerTransformer` on the training split only and apply it to a test value larger than any training
#    value. What does the transform do with it?
#
# <details><summary>Answers (click to unfold)</summary>
#
# 5. NumPy's default percentile sits at position $q\,(n-1)$ of the sorted values: 142 and 426 for the 569
#    values, 142.25 and 426.75 for 570. The new value is beyond both, but it shifts where the quartiles fall
#    between neighbouring sorted values, so each quartile moves a little towards the next value up.
# 6. Min-max, z-score and robust scaling give identical k-NN results for any $a \neq 0$: with $a > 0$ the
#    scaled feature is unchanged; with $a < 0$ it flips sign (min-max gives $1 - x'$), which leaves every
#    distance unchanged. Power transforms are not straight-line maps, so they do change: Yeo-Johnson for any
#    new units; Box-Cox survives $b = 0$ (its fitted $\lambda$ and the final z-score absorb the factor $a$),
#    but not a shift.
# 7. It applies the training $\lambda$ and the training mean and standard deviation; nothing is clipped. With
#    $\lambda < 0$ (as for *area error*) the transform is bounded above by $-1/\lambda$ (before the final
#    z-score), so ever larger test values are squeezed ever closer to one ceiling.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# | method | per feature | preserves | breaks | use when |
# |---|---|---|---|---|
# | min-max | $\dfrac{x - \min}{\max - \min}$ | distribution shape; output in $[0, 1]$ on the data it was fitted on (new data can fall outside: section 8) | one outlier squeezes the rest; sparsity | natural bounds, no outliers (pixels, percentages) |
# | z-score | $\dfrac{x - \bar x}{\sigma}$ (biased $\sigma$) | shape; mean 0, std 1 | unbounded; outliers inflate $\sigma$; sparsity (centering) | the default for distances, penalties, gradient descent |
# | robust | $\dfrac{x - \text{median}}{q_{75} - q_{25}}$ | the bulk's scale, despite outliers | unbounded; outliers stay far out | outliers you must keep |
# | power (Box-Cox, Yeo-Johnson) | $\psi(x, \hat\lambda)$, then z-score | order of values | linear relationships; units | strongly skewed features; Box-Cox needs $x > 0$ |
#
# * Every statistic is **per feature** (column) and **fitted**: fit on the training split, apply with the
#   same parameters to everything else.
# * Constant features get scale 1, NaN is ignored when fitting: scikit-learn's deliberate choices, mirrored by
#   `normviz.scaling`.
# * Scaling changes units, not shape; only power transforms change shape.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## References
#
# * scikit-learn user guide, [Preprocessing data](https://scikit-learn.org/stable/modules/preprocessing.html),
#   and the example [Compare the effect of different scalers on data with outliers](https://scikit-learn.org/stable/auto_examples/preprocessing/plot_all_scaling.html).
# * G. E. P. Box and D. R. Cox, "An analysis of transformations", *Journal of the Royal Statistical Society:
#   Series B*, 26(2):211–252, 1964.
# * I.-K. Yeo and R. A. Johnson, "A new family of power transformations to improve normality or symmetry",
#   *Biometrika*, 87(4):954–959, 2000.
# * T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for computing the sample variance: analysis and
#   recommendations", *The American Statistician*, 37(3):242–247, 1983 (the variance scikit-learn uses to
#   spot constant features).
# * T. Hastie, R. Tibshirani and J. Friedman, *The Elements of Statistical Learning*, 2nd ed., Springer, 2009,
#   section 7.10.2, "The wrong and right way to do cross-validation" (leakage through feature selection).
#
# Next: notebook 02 moves normalization **inside** the network, where the statistics come from a batch.
