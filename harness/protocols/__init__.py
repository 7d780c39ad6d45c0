"""The real protocols, deployed from their published builds on a harness chain.

Uniswap v2 (factory, Router02, WETH9) and v3 (factory, SwapRouter, QuoterV2,
NonfungiblePositionManager) from the pinned npm packages' bytecode (never recompiled),
our V3ViewQuoter, and the two strategy vaults of fixtures/contracts:

- `deploy.Deployer`: the admin's set-up transactions, in order, with explicit gas.
- `uniswap_v2`: `deploy_weth`, `deploy_uniswap_v2`, `create_v2_pool`.
- `uniswap_v3`: `deploy_uniswap_v3`, `create_v3_pool`, `read_pool_state` (the runner's reader, uncached, any window), `encode_path`.
- `vaults`: `deploy_vault` (StrategyVault4626 / AsyncStrategyVault), routes and router kinds.
- `faults`: the fault modes on the real DEXes (vault- and token-level switches).
- `world`: `deploy_protocol_world`, everything above from one declaration.
- `scenario_world`: a scenario's world on them (`vault: {kind: erc4626}`): the deployment,
  the runner's universe (each pool's dex, the routers) and the timeline's events on the
  real DEXes' ABIs (a v3 price shock is a SwapRouter swap up to the target price).
"""
