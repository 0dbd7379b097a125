"""Text written by the maxact project for the built-in corpus (licence: the project's own).
Encyclopedic paragraphs and mathematics; kept factual and plain."""

ENCYCLOPEDIC = [
    "Water is a chemical compound of hydrogen and oxygen with the formula H2O. At standard atmospheric pressure it freezes at 0 degrees Celsius and boils at 100 degrees Celsius. Liquid water is densest at about 4 degrees Celsius, which is why ice floats and lakes freeze from the top down, allowing aquatic life to survive the winter beneath the surface.",
    "The Moon is Earth's only natural satellite. Its mean distance from Earth is about 384,400 kilometres and its diameter is roughly a quarter of Earth's. The Moon is tidally locked, so the same hemisphere always faces Earth. Its gravity, together with the Sun's, raises the ocean tides.",
    "Photosynthesis is the process by which plants, algae and some bacteria convert light energy into chemical energy. Using carbon dioxide and water, and releasing oxygen, they build sugars. The light-dependent reactions take place in the thylakoid membranes of chloroplasts; the Calvin cycle fixes carbon in the stroma.",
    "The printing press with movable metal type was developed in Mainz around 1450 by Johannes Gutenberg. It made books far cheaper to produce, helped spread literacy and new ideas across Europe, and contributed to the Renaissance, the Reformation and the Scientific Revolution.",
    "The Pacific Ocean is the largest and deepest of Earth's oceans, covering about a third of the planet's surface. Its deepest known point, the Challenger Deep in the Mariana Trench, lies nearly 11,000 metres below sea level. The Pacific is ringed by volcanoes and earthquake zones known as the Ring of Fire.",
    "A prime number is a natural number greater than 1 that has no positive divisors other than 1 and itself. Euclid proved more than two thousand years ago that there are infinitely many primes. The fundamental theorem of arithmetic states that every integer greater than 1 factors uniquely into primes, up to order.",
    "The human heart has four chambers: two atria and two ventricles. The right side pumps blood to the lungs, where it picks up oxygen; the left side pumps oxygenated blood to the rest of the body. At rest an adult heart beats roughly 60 to 100 times per minute.",
    "The transistor, invented at Bell Laboratories in 1947, is a semiconductor device that amplifies or switches electronic signals. Integrated circuits place billions of transistors on a single chip of silicon, and the steady growth in their number per chip drove decades of progress in computing.",
    "The Silk Road was a network of trade routes linking China with Central Asia, the Middle East and the Mediterranean from the second century BC. Besides silk, merchants carried spices, paper, glass and precious metals, and the routes also carried religions, languages and technologies between distant cultures.",
    "Plate tectonics describes the large-scale motion of the plates that make up Earth's lithosphere. Plates move a few centimetres per year, driven by convection in the mantle. Where they collide mountains rise and deep trenches form; where they separate, new crust is created at mid-ocean ridges.",
    "The speed of light in vacuum is exactly 299,792,458 metres per second; since 1983 the metre has been defined from it. Nothing carrying information travels faster. Light from the Sun takes about eight minutes and twenty seconds to reach Earth.",
    "DNA, deoxyribonucleic acid, carries genetic instructions in all known living organisms. Its two strands wind around each other in a double helix, and the sequence of four bases, adenine, thymine, guanine and cytosine, encodes genes. The structure was described in 1953 using X-ray diffraction images.",
    "The Amazon rainforest covers much of the Amazon basin in South America and is the largest tropical rainforest on Earth. It is home to an enormous diversity of plant and animal species, and its trees store vast amounts of carbon, which makes it important for the global climate.",
    "Vaccination trains the immune system to recognise a pathogen without causing the disease. Edward Jenner's work with cowpox in 1796 led to the first smallpox vaccine, and a worldwide campaign declared smallpox eradicated in 1980, the first human disease to be eliminated.",
    "A neural network is a computational model built from layers of simple units that compute weighted sums followed by nonlinear functions. Trained by gradient descent on large datasets, deep networks recognise images, translate languages and generate text. Transformers, introduced in 2017, process sequences with attention instead of recurrence.",
    "Mount Everest, on the border between Nepal and the Tibet Autonomous Region of China, is the highest mountain above sea level at about 8,849 metres. It was first summited in 1953 by Tenzing Norgay and Edmund Hillary. Its upper slopes lie in the so-called death zone, where the air holds about a third of the oxygen at sea level.",
]

LATEX = [
    r"""\begin{theorem}[Cauchy--Schwarz] For all vectors $u, v$ in an inner product space, $|\langle u, v\rangle|^2 \le \langle u, u\rangle \cdot \langle v, v\rangle$, with equality if and only if $u$ and $v$ are linearly dependent.\end{theorem}
\begin{proof} If $v = 0$ both sides vanish. Otherwise let $\lambda = \langle u, v\rangle / \langle v, v\rangle$ and expand $0 \le \| u - \lambda v \|^2 = \|u\|^2 - |\langle u,v\rangle|^2/\|v\|^2$. \end{proof}""",
    r"""The softmax of $z \in \mathbb{R}^n$ is $\sigma(z)_i = \frac{e^{z_i}}{\sum_{j=1}^{n} e^{z_j}}$. It is invariant to adding a constant: $\sigma(z + c\mathbf{1}) = \sigma(z)$, so implementations subtract $\max_j z_j$ before exponentiating to avoid overflow. Its Jacobian is $\partial \sigma_i / \partial z_k = \sigma_i(\delta_{ik} - \sigma_k)$.""",
    r"""Let $X_1, \dots, X_n$ be i.i.d. with mean $\mu$ and variance $\sigma^2 < \infty$. Then $\bar X_n = \frac1n \sum_{i=1}^n X_i$ satisfies $\mathbb{E}[\bar X_n] = \mu$, $\operatorname{Var}(\bar X_n) = \sigma^2 / n$, and by the central limit theorem $\sqrt{n}(\bar X_n - \mu) \xrightarrow{d} \mathcal{N}(0, \sigma^2)$.""",
    r"""\begin{align*} \int_0^1 x^n \, dx &= \frac{1}{n+1}, \\ \sum_{k=0}^{n} \binom{n}{k} &= 2^n, \\ \lim_{n\to\infty} \left(1 + \frac{1}{n}\right)^n &= e \approx 2.718281828459045. \end{align*}""",
    r"""For a matrix $A \in \mathbb{R}^{m\times n}$ the singular value decomposition is $A = U \Sigma V^\top$ with orthogonal $U, V$ and $\Sigma = \operatorname{diag}(\sigma_1 \ge \dots \ge \sigma_r > 0)$. The best rank-$k$ approximation in Frobenius norm is $A_k = \sum_{i=1}^k \sigma_i u_i v_i^\top$ (Eckart--Young), and $\|A - A_k\|_F^2 = \sum_{i>k} \sigma_i^2$.""",
    r"""RMS normalisation: $\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\frac{1}{d}\sum_{i=1}^{d} x_i^2 + \varepsilon}} \odot w$. Rotary embeddings rotate pairs $(x_j, x_{j+d/2})$ by the angle $p\,\theta^{-2j/d}$: $x'_j = x_j\cos\phi - x_{j+d/2}\sin\phi$, $x'_{j+d/2} = x_{j+d/2}\cos\phi + x_j\sin\phi$.""",
    r"""INT8 symmetric quantisation with scale $s = \max|x| / 127$ maps $q = \operatorname{clamp}(\operatorname{round}(x/s), -127, 127)$ and reconstructs $\hat x = s q$. For uniformly distributed rounding error the mean squared error is $s^2/12$, so the signal-to-quantisation-noise ratio is $\mathrm{SQNR} = 10\log_{10}\frac{\sum x_i^2}{\sum (x_i - \hat x_i)^2}$ dB.""",
]


def word_problems(rng):
    """Arithmetic word problems with worked answers, generated from templates."""
    names = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena"]
    items = [("apples", "baskets"), ("books", "shelves"), ("marbles", "jars"), ("stamps", "albums"),
             ("pencils", "boxes"), ("cookies", "trays")]
    out = []
    for _ in range(60):
        name = rng.choice(names)
        thing, holder = rng.choice(items)
        a, b, c = rng.randint(3, 12), rng.randint(4, 25), rng.randint(2, 40)
        total = a * b + c
        out.append(f"{name} has {a} {holder} with {b} {thing} in each, and {c} loose {thing}. "
                   f"How many {thing} does {name} have in all?\n"
                   f"Solution: {a} × {b} = {a * b}; {a * b} + {c} = {total}. The answer is {total}.")
        speed, hours, minutes = rng.randint(30, 120), rng.randint(1, 6), rng.choice([0, 15, 20, 30, 45])
        dist = speed * hours + speed * minutes / 60
        out.append(f"A train travels at {speed} km/h for {hours} h {minutes} min. How far does it go?\n"
                   f"Solution: {hours} h {minutes} min = {hours + minutes / 60:.4g} h, so the distance is "
                   f"{speed} × {hours + minutes / 60:.4g} = {dist:g} km.")
        p, r, y = rng.randint(1, 50) * 100, rng.choice([2, 3, 4, 5, 6]), rng.randint(2, 8)
        out.append(f"An account holds ${p:,} at {r}% interest compounded yearly. What is the balance after {y} years?\n"
                   f"Solution: {p:,} × (1 + {r}/100)^{y} = {p * (1 + r / 100) ** y:,.2f} dollars.")
    return out

# Chinese paragraphs written by the project (simplified characters).
CHINESE = [
    "水是由氢和氧组成的化合物，化学式为H2O。在标准大气压下，水在0摄氏度结冰，在100摄氏度沸腾。液态水在大约4摄氏度时密度最大，所以冰会浮在水面上，湖泊从表面开始结冰，水下的生物因此能够过冬。",
    "月球是地球唯一的天然卫星，与地球的平均距离约为38.44万公里，直径大约是地球的四分之一。月球被潮汐锁定，所以总是同一面朝向地球。月球和太阳的引力共同引起了海洋的潮汐。",
    "光合作用是植物、藻类和一些细菌把光能转化为化学能的过程。它们利用二氧化碳和水制造糖类，同时释放氧气。光反应发生在叶绿体的类囊体膜上，卡尔文循环则在基质中固定碳。",
    "活字印刷术由北宋的毕昇在十一世纪发明，他用胶泥制成单个的字模，排版后印刷，用完可以拆开重复使用。十五世纪中叶，欧洲的古腾堡发展了金属活字印刷，大大降低了书籍的成本，促进了知识的传播。",
    "素数是大于1且除了1和它本身以外没有其他正因数的自然数，例如2、3、5、7、11和13。两千多年前，欧几里得就证明了素数有无穷多个。算术基本定理指出，每个大于1的整数都可以唯一地分解为素数的乘积。",
    "丝绸之路是从公元前二世纪开始连接中国与中亚、西亚和地中海地区的一系列贸易路线。商人们运送丝绸、香料、纸张和金属，宗教、语言和技术也沿着这些道路在不同的文明之间传播。",
    "珠穆朗玛峰位于中国和尼泊尔的边界上，海拔约8849米，是世界最高峰。1953年，丹增·诺尔盖和埃德蒙·希拉里首次登顶。1960年，中国登山队首次从北坡登上了顶峰。",
    "神经网络是由许多简单单元分层组成的计算模型，每个单元先计算加权和，再经过非线性函数。通过梯度下降在大规模数据上训练后，深度网络可以识别图像、翻译语言并生成文本。2017年提出的Transformer用注意力机制代替了循环结构。",
    "长江是中国最长的河流，全长约6300公里，发源于青藏高原，向东流经十一个省级行政区，最后在上海注入东海。长江流域是中国人口最稠密、经济最发达的地区之一，三峡工程就建在它的中游。",
    "中国古代数学著作《九章算术》成书于东汉时期，共收录了二百四十六个问题，内容涉及分数运算、比例、面积与体积的计算、线性方程组的解法等。书中的“方程”章使用了类似今天消元法的方法，并且最早系统地使用了负数。",
]
