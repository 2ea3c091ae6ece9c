"""Physical constants shared by the simulators, the system specs and the analysis.

Each is written once, here, with its source. Units: k_B = 1 and coupling J = 1 unless
stated; lattice models on the square (2D) or simple cubic (3D) lattice.
"""

from __future__ import annotations

import math

#: Critical temperature of the square-lattice Ising model, H = -J Σ s_i s_j with J = 1:
#: T_c = 2 / ln(1 + √2) (L. Onsager, Phys. Rev. 65, 117 (1944)).
TC_ISING = 2.0 / math.log(1.0 + math.sqrt(2.0))
#: Correlation-length exponent of the 2D Ising universality class (exact).
NU_ISING_2D = 1.0

#: Site-percolation threshold of the infinite square lattice, 0.59274605079210(2)
#: (J. L. Jacobsen, J. Phys. A 48, 454003 (2015)); quoted in the review's section 3.1.
PC_SQUARE_SITE = 0.59274605079210
#: The finite-size threshold p_c(L = 100) the review uses for its percolation data (§3).
PC_L100_REVIEW = 0.585
#: Correlation-length exponent of 2D percolation, ν = 4/3 (M. den Nijs, J. Phys. A 12,
#: 1857 (1979); B. Nienhuis, J. Phys. A 15, 199 (1982)).
NU_PERCOLATION_2D = 4.0 / 3.0

#: Critical disorder of the 3D Anderson model (box distribution, E = 0): w_c = 16.54(2)
#: and ν = 1.57(2) (K. Slevin and T. Ohtsuki, Phys. Rev. Lett. 82, 382 (1999); the
#: review quotes w_c ≈ 16.57).
W_C_ANDERSON = 16.54
NU_ANDERSON = 1.57


#: Correlation-length exponents of the 2D q-state Potts model for q = 2, 3, 4 (exact:
#: den Nijs 1979, Nienhuis 1982): 1, 5/6, 2/3. For q > 4 the transition is first order.
NU_POTTS_2D = {2: 1.0, 3: 5.0 / 6.0, 4: 2.0 / 3.0}


def potts_critical_temperature(q: int) -> float:
    """T_c = 1 / ln(1 + √q) of the 2D q-state Potts model, H = -J Σ δ(s_i, s_j), J = 1.

    Exact by self-duality (R. J. Baxter, J. Phys. C 6, L445 (1973)); the transition is
    continuous for q <= 4 and first order for q > 4. For q = 2 this is T_c(Ising) / 2,
    because δ(s, s') = (1 + s s') / 2 halves the coupling.
    """
    if q < 2:
        raise ValueError(f"q={q!r}: the Potts model needs q >= 2")
    return 1.0 / math.log(1.0 + math.sqrt(q))
