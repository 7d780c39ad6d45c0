"""revm in process (pyrevm 0.3.7) as a chain backend: anvil's EVM without the process.

The same EVM as anvil (revm, hardfork cancun), driven from Python without JSON-RPC. It
behaves like anvil started by `harness/anvil_node.py` (`--no-mining --order fifo`,
`--base-fee 1000000000`, `--gas-price 10000000000`, chain id `DEFAULT_CHAIN_ID`):
a sent transaction is checked as a node checks it, waits in a FIFO pool and executes
when `mine(timestamp)` seals the block; receipts are `None` until then.

pyrevm is an EVM, not a node. What it lacks, and how this module bridges it:

- **State between transactions.** pyrevm never finalises revm's journal: every account
  and slot a transaction touched stays in the journal, so it would be *warm* for every
  later transaction (EIP-2929 prices) and SSTORE would price against the value of the
  first load ever (EIP-2200), not the value at the start of the transaction. Gas would
  not match anvil. Each transaction therefore runs inside a journal checkpoint; its
  writes are read back from the journal, the checkpoint is reverted (the journal is
  empty again: everything cold), and the writes go into revm's database with
  `insert_account_info` / `insert_account_storage`.
- **Which slots a transaction wrote.** pyrevm exposes no state diff. The only view of
  the journal is its Debug text (`EVM.journal_str`), scanned here with `str.find`.
  Revert data likewise exists only in the text of the `RuntimeError` pyrevm raises
  (`Revert { gas_used, output }`); a halt (out of gas) raises `CallReverted("EVM error
  <reason>")` from `call`, as anvil words it.
- **Analysed code.** pyrevm's `AccountInfo` can only carry raw code, which revm
  analyses again in every call frame (a quarter of a swap's time). revm's database keeps
  the first code it is given per hash, and an `AccountInfo` read back with `basic()`
  carries revm's analysed code: so a created contract's info is read before its
  journal is reverted and inserted first, and code loaded from a dump is deployed once
  by a throwaway CREATE to get it analysed.
- **Transactions.** No decoding, signature recovery, nonce, chain-id or funds checks, no
  mempool: done here (legacy EIP-155 and pre-155 transactions, which is what
  `runner/chain/wallet.py` signs), with anvil 1.7.1's rejection messages.
- **Fees.** `message_call` skips the fee handlers (no nonce bump, no gas charged, no
  miner tip) and `deploy` pays the miner the whole gas price because pyrevm zeroes
  the block's base fee for every execution; both are settled here as anvil settles
  them: the sender pays gas used x gas price, the coinbase (0x0, as on anvil) gets gas
  used x (gas price - base fee), the nonce is bumped. The coinbase stays in revm's
  journal for good (revm loads it without a journal entry), so its balance is written
  with `set_balance`.
- **Base fee.** As anvil evolves it: block 1 carries the configured base fee, every
  later block the EIP-1559 successor of its parent's (gas used against a 15M target).
  It is enforced at broadcast ("max fee per gas less than block base fee"). The BASEFEE
  opcode reads 0 on this backend: pyrevm overwrites the block's base fee with 0 for
  every execution and offers no way round it (no fixture reads it).
  Unlike anvil, whose next base fee survives `evm_revert` (it continues from the last
  block mined before the revert), a revert here restores it with the chain: a
  scenario's fees must not depend on what ran before it on the same node.
- **Blocks.** None: headers (number, timestamp, base fee, prevrandao = keccak(number)
  as on eth-tester, gas used, hash) are kept here. A hash is keccak over the parent
  hash and the block's contents, so a replaced block gets a new hash (how reorgs are
  noticed). The BLOCKHASH opcode reads pyrevm's placeholder, not these hashes.
- **eth_call at a block.** One database, no history: the last `HISTORY_BLOCKS` blocks
  keep an undo record (the value each touched account and slot had before the block),
  and a call at block N < head applies it to the database, runs, then puts the head
  values back. Older blocks are refused as a pruned node refuses them. A call sees its
  block's own number and timestamp, as on anvil.
- **Snapshots, dump/load.** The whole (small) world state is also mirrored in Python
  dicts; a snapshot is a copy of that mirror and of the block list, a revert writes
  back only what differs. `dump_state()` is that mirror, the blocks, receipts and logs
  as JSON; `load_state()` builds a new EVM from it (a node restart keeps the chain;
  the undo records do not survive it, so calls below the loaded head are refused).
- **Stubs.** pyrevm 0.3.7's `.pyi` lags its binary (`AccountInfo` takes a balance, the
  default spec is LATEST, spec names are matched case-sensitively: "Cancun", not
  "CANCUN", which silently means LATEST); typed wrappers here follow the binary.
- **Impersonation.** revm rejects a transaction from an account with code (EIP-3607)
  and pyrevm cannot disable that as anvil does for impersonated senders, so an
  impersonated contract's code hash is hidden for the duration of its transaction;
  a transaction that calls back into that contract is refused rather than run wrong.
- **Fork mode.** `fork_url` forks a node at a block (pyrevm's EthersDB: accounts and
  slots are fetched lazily and cached); blocks continue from the fork block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coincurve import PublicKey
from pyrevm import EVM, AccountInfo, BlockEnv, CfgEnv, Env

from runner.chain.backend import Ability, Call, Log, Receipt
from runner.chain.errors import CallReverted, ChainError, NodeError, TransactionRejected
from runner.chain.revert import decode_revert_reason
from runner.chain.wallet import impersonated_tx_hash

try:  # safe-pysha3 (installed with eth-tester[py-evm]): 5x faster than eth_hash's default backend
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()  # type: ignore[no-any-return]
except ImportError:  # pragma: no cover - the same digest, slower
    from eth_hash.auto import keccak  # type: ignore[assignment]

DEFAULT_CHAIN_ID = 131277322940537  # eth-tester's and anvil's (see runner/chain/ethtester.py)
GAS_LIMIT = 30_000_000  # block gas limit, as anvil is started with
BASE_FEE = 1_000_000_000  # anvil --base-fee
GAS_PRICE = 10_000_000_000  # anvil --gas-price: what impersonated sends pay
CALL_GAS = GAS_LIMIT  # eth_call's default gas on anvil
HISTORY_BLOCKS = 256  # blocks below the head that eth_call can still read
SPEC = "Cancun"  # pyrevm matches spec names case-sensitively; anything else is LATEST
COINBASE = b"\x00" * 20  # anvil's default miner
KECCAK_EMPTY = keccak(b"")
MAX_INITCODE = 49_152  # EIP-3860
_EMPTY: tuple[int, int, bytes] = (0, 0, KECCAK_EMPTY)
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# revm's JournaledState Debug text: "0x<address>: Account { info: AccountInfo { balance: <dec>,
# nonce: <dec>, code_hash: 0x<hex>, code: None | Some(Bytecode { bytecode: 0x<hex>, state: ... }) },
# storage: {<dec>: StorageSlot { previous_or_original_value: <dec>, present_value: <dec> }, ...},
# status: AccountStatus(<flags>) }". Scanned with str.find: a regex over the code hex costs 10x more.
_ACCOUNT_MARK = ": Account { info: AccountInfo { balance: "
_SLOT = re.compile(r"(\d+): StorageSlot \{ previous_or_original_value: (\d+), present_value: (\d+) \}")
_REVERT = re.compile(r"Revert \{ gas_used: (\d+), output: 0x([0-9a-f]*) \}")
_HALT = re.compile(r"Halt \{ reason: (.*), gas_used: (\d+) \}")

AccountTuple = tuple[int, int, bytes]  # (balance, nonce, code hash)


def next_base_fee(parent_base_fee: int, parent_gas_used: int, gas_limit: int = GAS_LIMIT) -> int:
    """EIP-1559: the base fee of the block after one that used `parent_gas_used`."""
    target = gas_limit // 2
    if parent_gas_used == target:
        return parent_base_fee
    if parent_gas_used > target:
        return parent_base_fee + max(parent_base_fee * (parent_gas_used - target) // target // 8, 1)
    return parent_base_fee - parent_base_fee * (target - parent_gas_used) // target // 8


def intrinsic_gas(data: bytes, create: bool) -> int:
    """What a transaction costs before its first opcode (cancun, no access list)."""
    zeros = data.count(0)
    gas = 21_000 + 4 * zeros + 16 * (len(data) - zeros)
    if create:
        gas += 32_000 + 2 * ((len(data) + 31) // 32)  # EIP-3860 initcode words
    return gas


# -- transactions ------------------------------------------------------------------
@dataclass(slots=True)
class PendingTx:
    """A transaction in the pool: decoded from its signed bytes, or impersonated."""

    tx_hash: bytes
    sender: bytes
    nonce: int
    gas_price: int
    gas: int
    to: bytes | None
    value: int
    data: bytes
    chain_id: int | None
    impersonated: bool = False


def _rlp_item(raw: bytes, pos: int) -> tuple[int, int, bool]:
    """(payload start, payload end, is a list) of the RLP item whose header is at `pos`."""
    b = raw[pos]
    if b < 0x80:
        return pos, pos + 1, False
    if b < 0xB8:
        return pos + 1, pos + 1 + b - 0x80, False
    if b < 0xC0:
        n = b - 0xB7
        return pos + 1 + n, pos + 1 + n + int.from_bytes(raw[pos + 1:pos + 1 + n], "big"), False
    if b < 0xF8:
        return pos + 1, pos + 1 + b - 0xC0, True
    n = b - 0xF7
    return pos + 1 + n, pos + 1 + n + int.from_bytes(raw[pos + 1:pos + 1 + n], "big"), True


def _rlp_header(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    n = (length.bit_length() + 7) // 8
    return bytes([offset + 55 + n]) + length.to_bytes(n, "big")


def _rlp_bytes(b: bytes) -> bytes:
    return b if len(b) == 1 and b[0] < 0x80 else _rlp_header(len(b), 0x80) + b


def _rlp_int(value: int) -> bytes:
    return _rlp_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big")) if value else b"\x80"


def decode_legacy_transaction(raw: bytes) -> PendingTx:
    """A signed legacy transaction (EIP-155 or unprotected), its sender recovered.

    The signing payload is rebuilt from the raw bytes of the first six items, not
    re-encoded. Raises `TransactionRejected` with anvil's message for what it cannot read.
    """
    try:
        start, end, is_list = _rlp_item(raw, 0)
        if not is_list or end != len(raw):
            raise ValueError("not one RLP list")
        spans: list[tuple[int, int, int]] = []  # (header start, payload start, payload end)
        pos = start
        while pos < end:
            s, e, nested = _rlp_item(raw, pos)
            if nested or e > end:
                raise ValueError("a nested or truncated item")
            spans.append((pos, s, e))
            pos = e
        if len(spans) != 9:
            raise ValueError("not nine items")
    except (IndexError, ValueError):
        if raw[:1] in (b"\x01", b"\x02", b"\x03", b"\x04"):
            raise TransactionRejected("transaction type not supported") from None
        raise TransactionRejected("Failed to decode transaction") from None
    f = [raw[s:e] for _h, s, e in spans]
    nonce, gas_price, gas = (int.from_bytes(x, "big") for x in f[:3])
    to = f[3] or None
    if to is not None and len(to) != 20:
        raise TransactionRejected("Failed to decode transaction")
    v, r, s = (int.from_bytes(x, "big") for x in f[6:])
    if v in (27, 28):
        chain_id: int | None = None
        parity = v - 27
    elif v >= 35:
        chain_id, parity = (v - 35) // 2, (v - 35) % 2
    else:
        raise TransactionRejected("invalid signature")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):  # EIP-2: no high s
        raise TransactionRejected("invalid signature")
    body = raw[spans[0][0]:spans[5][2]]
    if chain_id is not None:
        body += _rlp_int(chain_id) + b"\x80\x80"
    try:
        public = PublicKey.from_signature_and_message(
            r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([parity]),
            keccak(_rlp_header(len(body), 0xC0) + body), hasher=None)
    except Exception:  # coincurve raises a bare Exception for an unrecoverable signature
        raise TransactionRejected("invalid signature") from None
    sender = keccak(public.format(compressed=False)[1:])[-20:]
    return PendingTx(keccak(raw), sender, nonce, gas_price, gas, to, int.from_bytes(f[4], "big"), f[5], chain_id)


# -- chain bookkeeping ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Block:
    """A sealed block's header fields, its transactions and its logs (block-wide indexes)."""

    number: int
    timestamp: int
    base_fee: int
    gas_used: int
    hash: bytes
    tx_hashes: tuple[bytes, ...] = ()
    logs: tuple[Log, ...] = ()

    @property
    def prevrandao(self) -> bytes:
        return prevrandao(self.number)


def prevrandao(number: int) -> bytes:
    """Derived from the number, as on eth-tester: blocks are reproducible (anvil's are random)."""
    return keccak(number.to_bytes(32, "big"))


def block_hash_of(parent_hash: bytes, number: int, timestamp: int, base_fee: int, gas_used: int,
                  tx_hashes: Sequence[bytes]) -> bytes:
    """A header-like hash: changes with the parent and the contents, so a replaced block differs."""
    fields = [parent_hash, _rlp_int(number), _rlp_int(timestamp), _rlp_int(base_fee), _rlp_int(gas_used),
              b"".join(tx_hashes)]
    return keccak(b"".join(_rlp_bytes(x) for x in fields))


@dataclass(frozen=True, slots=True)
class _Snapshot:
    accounts: dict[bytes, AccountTuple]
    storage: dict[tuple[bytes, int], int]
    blocks: int  # how many blocks the chain had
    undo: dict[int, tuple[dict[bytes, AccountTuple], dict[tuple[bytes, int], int]]]
    oldest_state: int


@dataclass(slots=True)
class _Diff:
    """What one transaction changed, read from revm's journal before it is reverted."""

    accounts: dict[bytes, AccountTuple]
    storage: dict[tuple[bytes, int], int]
    codes: dict[bytes, bytes]
    loaded_code: set[bytes]  # accounts whose code was loaded (called or inspected)


def _hex(address: bytes) -> str:
    return "0x" + address.hex()


class _CalledBack(Exception):
    """An impersonated contract's hidden code was reached: the transaction cannot run right."""


# pyrevm 0.3.7's stubs lag its binary: AccountInfo takes `balance` (the .pyi omits it).
_AccountInfo: Any = AccountInfo


def _info(balance: int, nonce: int, code_hash: bytes | None = None, code: bytes | None = None) -> AccountInfo:
    return _AccountInfo(balance=balance, nonce=nonce, code_hash=code_hash, code=code)  # type: ignore[no-any-return]


@dataclass(slots=True)
class JournalAccount:
    """One account as revm's journal text shows it."""

    address: str  # 40 hex digits
    balance: int
    nonce: int
    code_hash: str  # 64 hex digits
    has_code: bool  # its code was loaded: it was called or inspected
    storage: str  # the slots, as Debug text
    status: str  # "Touched", "Created | Touched", ...
    code: str = ""  # the code's Debug text, kept only for a contract created here

    def created_code(self) -> bytes:
        """The runtime code of a contract created in this transaction (analysis padding cut)."""
        start = self.code.find("0x") + 2
        end = self.code.find(",", start)
        code = bytes.fromhex(self.code[start:end])
        at = self.code.find("len: ", end)
        return code[:int(self.code[at + 5:self.code.find(",", at)].rstrip(" }"))] if at >= 0 else code


_HEAD = re.compile(r"(\d+), nonce: (\d+), code_hash: 0x([0-9a-f]{64}), code: (.)")


def scan_journal(journal: str) -> list[JournalAccount]:
    """The accounts of `EVM.journal_str`.

    One split on the account marker (the fastest pass over the code hex); in each piece
    the header is matched in place and the storage, at the end, found backwards.
    """
    pieces = journal.split(_ACCOUNT_MARK)
    out = []
    head = _HEAD.match
    for k in range(1, len(pieces)):
        piece = pieces[k]
        m = head(piece)
        st = piece.rfind(", storage: {")
        sq = piece.find("}, status: AccountStatus(", st)
        if m is None or st < 0 or sq < 0:
            raise ChainError(f"unexpected revm journal text: {piece[:200]!r}")
        se = piece.find(")", sq + 25)
        status = piece[sq + 25:se]
        account = JournalAccount(pieces[k - 1][-40:], int(m[1]), int(m[2]), m[3], m[4] == "S",
                                 piece[st + 12:sq], status)
        if "Created" in status:
            account.code = piece[m.end() - 1:st]
        out.append(account)
    return out


def _installer_initcode(code: bytes) -> bytes:
    """CODECOPY + RETURN of `code`: deploying it gives revm's analysed form of that code."""
    n = len(code).to_bytes(2, "big")
    return b"\x61" + n + b"\x60\x0e\x60\x00\x39\x61" + n + b"\x60\x00\xf3" + code


_INSTALLER = keccak(b"dst-harness/revm/code-installer")[-20:]


class RevmBackend:
    """An in-process revm chain with a mempool, caller-sealed blocks and node-like checks.

    `funded` accounts get `eth_each` wei at genesis (a memory chain). With `fork_url` the
    chain forks that node at `fork_block` instead (number, or None for its head).
    """

    name = "revm"
    abilities = frozenset(Ability)  # a mempool, impersonation, restarts by state dump

    def __init__(self, genesis_timestamp: int = 0, funded: Sequence[bytes] = (), eth_each: int = 10**24, *,
                 chain_id: int = DEFAULT_CHAIN_ID, base_fee: int = BASE_FEE,
                 fork_url: str | None = None, fork_block: int | None = None,
                 history_blocks: int = HISTORY_BLOCKS) -> None:
        self.chain_id = chain_id
        self._initial_base_fee = base_fee
        self._history = history_blocks
        self._fork_url = fork_url
        self._fork_block: int | None = None
        self._remote: Any = None  # JSON-RPC client of the forked node (pre-fork blocks, logs)
        # The world in Python: absent means "as at genesis (or at the fork)".
        self._accounts: dict[bytes, AccountTuple] = {}
        self._storage: dict[tuple[bytes, int], int] = {}
        self._codes: dict[bytes, bytes] = {}  # code hash -> code, for code this backend created
        self._origin_accounts: dict[bytes, AccountTuple] = {}  # fork mode: the forked values
        self._origin_storage: dict[tuple[bytes, int], int] = {}
        self._blocks: list[Block] = []
        self._first_block = 0  # the number of _blocks[0] (the fork block on a fork)
        self._receipts: dict[bytes, Receipt] = {}
        self._txs: dict[bytes, PendingTx] = {}  # mined transactions (eth_getTransactionByHash)
        # per block: the value each account and slot it changed had before it (bounded window)
        self._undo: dict[int, tuple[dict[bytes, AccountTuple], dict[tuple[bytes, int], int]]] = {}
        self._oldest_state = 0  # no state below this block can be rebuilt (the fork block, a restart)
        self._pool: list[PendingTx] = []
        self._pool_hashes: set[bytes] = set()
        self._snapshots: dict[int, _Snapshot] = {}
        self._next_snapshot = 1
        self._addr: dict[bytes, str] = {}
        self._unhex: dict[str, bytes] = {}  # journal text address -> bytes
        self._env_block = -1  # the block whose env revm holds (calls run at that block)
        if fork_url is not None:
            self._open_fork(fork_url, fork_block)
        else:
            self._evm = self._new_evm()
            for address in funded:
                self._set_account(address, (eth_each, 0, KECCAK_EMPTY))
            genesis_hash = keccak(b"revm-genesis" + _rlp_int(chain_id) + _rlp_int(genesis_timestamp))
            self._blocks.append(Block(0, genesis_timestamp, base_fee, 0, genesis_hash))
        self._use_block_env(self.block_number())

    # -- set-up ----------------------------------------------------------------------
    def _new_evm(self, fork_url: str | None = None, fork_block_hash: str | None = None) -> EVM:
        cfg = CfgEnv(chain_id=self.chain_id, perf_analyse_created_bytecodes="analyse")
        return EVM(env=Env(cfg=cfg, block=self._block_env(0, 0, 0)), fork_url=fork_url,
                   fork_block=fork_block_hash, gas_limit=GAS_LIMIT, spec_id=SPEC)

    @staticmethod
    def _block_env(number: int, timestamp: int, base_fee: int) -> BlockEnv:
        return BlockEnv(number=number, coinbase=_hex(COINBASE), timestamp=timestamp, difficulty=0,
                        prevrandao=prevrandao(number), basefee=base_fee, gas_limit=GAS_LIMIT, excess_blob_gas=0)

    def _open_fork(self, url: str, block: int | None) -> None:
        from runner.chain.rpc import JsonRpcClient

        self._remote = JsonRpcClient(url)
        remote_chain = int(self._remote.request("eth_chainId"), 16)
        if remote_chain != self.chain_id:
            self.chain_id = remote_chain  # a fork has its node's chain id, as on anvil
        tag = "latest" if block is None else hex(block)
        header = self._remote.request("eth_getBlockByNumber", [tag, False])
        if header is None:
            raise NodeError("eth_getBlockByNumber", f"the forked node has no block {block}")
        number = int(header["number"], 16)
        self._fork_block = number
        self._first_block = number
        self._oldest_state = number
        # pinned by hash: pyrevm reads a bare number as hex
        self._evm = self._new_evm(url, header["hash"])
        self._blocks.append(Block(number, int(header["timestamp"], 16), int(header.get("baseFeePerGas", "0x0"), 16),
                                  int(header["gasUsed"], 16), bytes.fromhex(header["hash"][2:])))

    def _a(self, address: bytes) -> str:
        s = self._addr.get(address)
        if s is None:
            s = self._addr[address] = _hex(address)
        return s

    def _use_block_env(self, number: int) -> None:
        if self._env_block != number:
            b = self._block(number)
            self._evm.set_block_env(self._block_env(b.number, b.timestamp, b.base_fee))
            self._env_block = number

    def _block(self, number: int) -> Block:
        return self._blocks[number - self._first_block]

    # -- reads -----------------------------------------------------------------------
    def block_number(self) -> int:
        return self._blocks[-1].number

    def block_timestamp(self, block: int | None = None) -> int:
        if block is None:
            return self._blocks[-1].timestamp
        if block < self._first_block:
            return int(self._remote_header(block)["timestamp"], 16)
        if block > self.block_number():
            raise NodeError("eth_getBlockByNumber", f"block {block} is above the head {self.block_number()}")
        return self._block(block).timestamp

    def block_hash(self, block: int) -> bytes | None:
        if block > self.block_number() or block < 0:
            return None
        if block < self._first_block:
            return bytes.fromhex(self._remote_header(block)["hash"][2:])
        return self._block(block).hash

    def base_fee(self, block: int | None = None) -> int:
        """The base fee of a block (the head by default); `next_base_fee()` for the next one."""
        return self._blocks[-1].base_fee if block is None else self._block(block).base_fee

    def next_base_fee(self) -> int:
        """The base fee the next sealed block will carry (anvil: block 1 keeps the configured one)."""
        head = self._blocks[-1]
        if head.number == 0 and self._fork_block is None:
            return self._initial_base_fee
        return next_base_fee(head.base_fee, head.gas_used)

    def block_transactions(self, block: int) -> list[bytes]:
        """The hashes of a block's transactions, in execution order."""
        return list(self._block(block).tx_hashes)

    def transaction(self, tx_hash: bytes) -> PendingTx | None:
        """A mined or pending transaction by hash (eth_getTransactionByHash)."""
        tx = self._txs.get(tx_hash)
        if tx is None and tx_hash in self._pool_hashes:
            tx = next(t for t in self._pool if t.tx_hash == tx_hash)
        return tx

    def _remote_header(self, block: int) -> dict[str, Any]:
        header = self._remote.request("eth_getBlockByNumber", [hex(block), False]) if self._remote else None
        if header is None:
            raise NodeError("eth_getBlockByNumber", f"no block {block}")
        return dict(header)

    def call(self, to: bytes, data: bytes, block: int | None = None, sender: bytes | None = None,
             gas: int = CALL_GAS) -> bytes:
        """eth_call (`gas` defaults to the block gas limit, as on anvil)."""
        if block is not None and block != self._blocks[-1].number:
            return self._historical(block, [Call(to, data)], sender, gas)[0]
        if self._env_block != self._blocks[-1].number:
            self._use_block_env(self._blocks[-1].number)
        evm = self._evm
        cp = evm.snapshot()
        try:
            return evm.message_call(self._a(sender or COINBASE), self._a(to), data, None, gas)  # type: ignore[no-any-return]
        except RuntimeError as exc:
            raise self._call_error(exc) from None
        finally:
            evm.revert(cp)

    def call_many(self, calls: Sequence[Call], block: int | None = None) -> list[bytes]:
        if block is not None and block != self._blocks[-1].number:
            return self._historical(block, calls, None)
        if self._env_block != self._blocks[-1].number:
            self._use_block_env(self._blocks[-1].number)
        return self._run_calls(calls, COINBASE)

    def _run_calls(self, calls: Sequence[Call], sender: bytes, gas: int = CALL_GAS) -> list[bytes]:
        """eth_calls at the block whose env revm holds, each on a clean journal (all cold)."""
        evm = self._evm
        caller = self._a(sender)
        a = self._a
        out = []
        for c in calls:
            cp = evm.snapshot()
            try:
                out.append(evm.message_call(caller, a(c.to), c.data, None, gas))
            except RuntimeError as exc:
                raise self._call_error(exc) from None
            finally:
                evm.revert(cp)
        return out

    @staticmethod
    def _call_error(exc: RuntimeError) -> ChainError:
        text = str(exc)
        m = _REVERT.search(text)
        if m is not None:
            raw = bytes.fromhex(m[2])
            return CallReverted(decode_revert_reason(raw) or "execution reverted", raw)
        m = _HALT.search(text)
        if m is not None:
            return CallReverted(f"EVM error {m[1]}", b"")
        return NodeError("eth_call", text)

    def _historical(self, block: int, calls: Sequence[Call], sender: bytes | None,
                    gas: int = CALL_GAS) -> list[bytes]:
        """Calls at an earlier block: its undo records applied to the database, then taken back."""
        head = self._blocks[-1].number
        if block > head:
            raise NodeError("eth_call", f"block {block} is above the head {head}")
        if block < max(self._oldest_state, head - self._history):
            raise NodeError("eth_call", f"historical state of block {block} is not available "
                            f"(this backend keeps the last {self._history} blocks)")
        accounts: dict[bytes, AccountTuple] = {}
        storage: dict[tuple[bytes, int], int] = {}
        for n in range(head, block, -1):  # the oldest "before" value of each key wins
            undo = self._undo.get(n)
            if undo is not None:
                accounts.update(undo[0])
                storage.update(undo[1])
        self._write_db(accounts, storage)
        try:
            self._use_block_env(block)
            return self._run_calls(calls, sender or COINBASE, gas)
        finally:
            self._write_db({a: self._account(a) for a in accounts},
                           {k: self._slot(k) for k in storage})
            self._use_block_env(head)

    def _account(self, address: bytes) -> AccountTuple:
        acct = self._accounts.get(address)
        if acct is not None:
            return acct
        if self._fork_block is None:
            return _EMPTY
        origin = self._origin_accounts.get(address)
        if origin is None:
            origin = self._origin_accounts[address] = self._read_db_account(address)
        return origin

    def _read_db_account(self, address: bytes) -> AccountTuple:
        evm = self._evm
        cp = evm.snapshot()
        try:
            info = evm.basic(self._a(address))
            return (int(info.balance), int(info.nonce), bytes(info.code_hash or KECCAK_EMPTY))
        finally:
            evm.revert(cp)

    def _slot(self, key: tuple[bytes, int]) -> int:
        value = self._storage.get(key)
        if value is not None:
            return value
        return self._origin_storage.get(key, 0)

    def get_nonce(self, address: bytes, *, confirmed: bool = False) -> int:
        """The pending nonce: the account's, plus its transactions ready in the pool (or,
        `confirmed`, the account's as mined)."""
        nonce = self._account(address)[1]
        if self._pool and not confirmed:
            taken = {tx.nonce for tx in self._pool if tx.sender == address}
            while nonce in taken:
                nonce += 1
        return nonce

    def get_eth_balance(self, address: bytes) -> int:
        return self._account(address)[0]

    def refresh(self, head: int | None = None) -> None:
        """This process is the node: nobody else seals its blocks."""

    def get_code(self, address: bytes) -> bytes:
        code_hash = self._account(address)[2]
        if code_hash in (KECCAK_EMPTY, b""):
            return b""
        known = self._codes.get(code_hash)
        if known is not None:
            return known
        evm = self._evm
        cp = evm.snapshot()
        try:  # code this backend did not create (a fork's): revm has it
            info = evm.basic(self._a(address))
            return bytes(info.code or b"")
        finally:
            evm.revert(cp)

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        receipt = self._receipts.get(tx_hash)
        if receipt is None and self._remote is not None and tx_hash not in self._pool_hashes:
            return self._remote_receipt(tx_hash)
        return receipt

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        return [self.get_receipt(h) for h in tx_hashes]

    def _remote_receipt(self, tx_hash: bytes) -> Receipt | None:
        """A receipt from before the fork: the forked node has it (as anvil forwards it)."""
        from runner.chain.anvil import AnvilBackend

        r = self._remote.request("eth_getTransactionReceipt", [_hex(tx_hash)])
        if r is None or int(r["blockNumber"], 16) > (self._fork_block or 0):
            return None
        tx = self._remote.request("eth_getTransactionByHash", [_hex(tx_hash)])
        return Receipt(tx_hash=tx_hash, status=int(r["status"], 16), block_number=int(r["blockNumber"], 16),
                       gas_used=int(r["gasUsed"], 16), gas_limit=int(tx["gas"], 16),
                       logs=tuple(AnvilBackend._log(e) for e in r["logs"]))

    def get_logs(self, address: bytes | Sequence[bytes], topics: Sequence[bytes | None], from_block: int,
                 to_block: int) -> list[Log]:
        addresses = {address} if isinstance(address, bytes) else set(address)
        out: list[Log] = []
        fork = self._fork_block
        if fork is not None and from_block <= fork:  # the fork block and before: the forked node's
            out.extend(self._remote_logs(addresses, topics, from_block, min(to_block, fork)))
        first = max(from_block, self._first_block if fork is None else fork + 1)
        last = min(to_block, self._blocks[-1].number)
        wanted = [(i, t) for i, t in enumerate(topics) if t is not None]
        for n in range(first, last + 1):
            for log in self._block(n).logs:
                if log.address in addresses and all(i < len(log.topics) and log.topics[i] == t for i, t in wanted):
                    out.append(log)
        return out

    def _remote_logs(self, addresses: set[bytes], topics: Sequence[bytes | None], from_block: int,
                     to_block: int) -> list[Log]:
        from runner.chain.anvil import AnvilBackend

        if to_block < from_block:
            return []
        flt = {"address": [_hex(a) for a in sorted(addresses)], "fromBlock": hex(from_block),
               "toBlock": hex(to_block), "topics": [None if t is None else _hex(t) for t in topics]}
        return [AnvilBackend._log(e) for e in self._remote.request("eth_getLogs", [flt])]

    # -- writes ----------------------------------------------------------------------
    def set_next_timestamp(self, timestamp: int) -> None:
        """Nothing to do: transactions execute when `mine(timestamp)` seals their block, at its time."""

    def send_raw_transaction(self, raw: bytes) -> bytes:
        tx = decode_legacy_transaction(raw)
        if tx.tx_hash in self._pool_hashes:
            raise TransactionRejected("transaction already imported")
        if tx.chain_id is not None and tx.chain_id != self.chain_id:
            raise TransactionRejected("invalid chain id for signer")
        self._admit(tx)
        return tx.tx_hash

    def _admit(self, tx: PendingTx) -> None:
        """A node's broadcast checks, in anvil's words; the transaction joins the FIFO pool."""
        balance, nonce, _code = self._account(tx.sender)
        if tx.nonce < nonce:
            raise TransactionRejected("nonce too low")
        if tx.gas > GAS_LIMIT:
            raise TransactionRejected("intrinsic gas too high -- tx.gas_limit > env.block.gas_limit")
        if tx.gas < intrinsic_gas(tx.data, tx.to is None):
            raise TransactionRejected("intrinsic gas too low")
        if tx.to is None and len(tx.data) > MAX_INITCODE:
            raise TransactionRejected("max initcode size exceeded")
        if tx.gas_price < self.next_base_fee():
            raise TransactionRejected("max fee per gas less than block base fee")
        if balance < tx.gas * tx.gas_price + tx.value:
            raise TransactionRejected("Insufficient funds for gas * price + value")
        for i, other in enumerate(self._pool):
            if other.sender == tx.sender and other.nonce == tx.nonce:
                if tx.gas_price <= other.gas_price:
                    raise TransactionRejected("replacement transaction underpriced")
                self._pool_hashes.discard(other.tx_hash)
                del self._pool[i]
                break
        self._pool.append(tx)
        self._pool_hashes.add(tx.tx_hash)

    def send_impersonated(self, sender: bytes, to: bytes, data: bytes, gas: int) -> bytes:
        """Send as `sender` without its key, as anvil_impersonateAccount + eth_sendTransaction.

        Like the anvil backend, an account with less than 0.1 ETH is topped up to 1 ETH
        first so it can pay for gas.
        """
        if self._account(sender)[0] < 10**17:
            self.set_eth_balance(sender, 10**18)
        nonce = self.get_nonce(sender)
        tx_hash = impersonated_tx_hash(sender, nonce, GAS_PRICE, gas, to, data, self.chain_id)  # anvil's hash
        tx = PendingTx(tx_hash, sender, nonce, GAS_PRICE, gas, to, 0, data, self.chain_id, impersonated=True)
        self._admit(tx)
        return tx_hash

    def set_eth_balance(self, address: bytes, wei: int) -> None:
        """anvil_setBalance: the head state changes in place (earlier blocks keep the old value)."""
        old = self._account(address)
        new = (wei, old[1], old[2])
        undo = self._undo.setdefault(self.block_number(), ({}, {}))
        undo[0].setdefault(address, old)
        self._set_account(address, new)

    def pending_transactions(self) -> list[bytes]:
        return [tx.tx_hash for tx in self._pool]

    def pending_among(self, tx_hashes: Sequence[bytes]) -> set[bytes]:
        return {h for h in tx_hashes if h in self._pool_hashes}  # this process is the node

    def drop_transaction(self, tx_hash: bytes) -> bool:
        """anvil_dropTransaction: the transaction and the sender's later ones that needed it."""
        if tx_hash not in self._pool_hashes:
            return False
        dropped = next(tx for tx in self._pool if tx.tx_hash == tx_hash)
        keep = []
        for tx in self._pool:
            if tx.sender == dropped.sender and tx.nonce >= dropped.nonce:
                self._pool_hashes.discard(tx.tx_hash)
            else:
                keep.append(tx)
        self._pool = keep
        return True

    def mine(self, timestamp: int) -> int:
        """Seal one block at `timestamp` with what the pool holds, first come first served.

        The earliest-arrived transaction that can run (its nonce is the sender's next one,
        it fits in the block's gas, it pays the base fee) goes next; the rest stay pending.
        """
        parent = self._blocks[-1]
        if timestamp < parent.timestamp:
            raise NodeError("evm_mine", f"timestamp {timestamp} is before the head's {parent.timestamp}")
        number = parent.number + 1
        base_fee = self.next_base_fee()
        self._evm.set_block_env(self._block_env(number, timestamp, base_fee))
        self._env_block = -1
        undo_accounts: dict[bytes, AccountTuple] = {}
        undo_storage: dict[tuple[bytes, int], int] = {}
        gas_used = 0
        included: list[bytes] = []
        logs: list[Log] = []
        receipts: list[Receipt] = []
        nonces: dict[bytes, int] = {}
        refused: list[bytes] = []
        pool = self._pool
        while True:
            pick = None
            for i, tx in enumerate(pool):
                expected = nonces.get(tx.sender)
                if expected is None:
                    expected = nonces[tx.sender] = self._account(tx.sender)[1]
                if tx.nonce == expected and gas_used + tx.gas <= GAS_LIMIT and tx.gas_price >= base_fee:
                    pick = i
                    break
            if pick is None:
                break
            tx = pool.pop(pick)
            self._pool_hashes.discard(tx.tx_hash)
            try:
                outcome = self._execute(tx, base_fee, undo_accounts, undo_storage)
            except _CalledBack:
                refused.append(tx.tx_hash)
                continue
            if outcome is None:
                continue  # invalid when it came to run (e.g. funds spent since): dropped, as anvil does
            status, used, tx_logs, output = outcome
            nonces[tx.sender] = tx.nonce + 1
            gas_used += used
            block_logs = tuple(Log(address, topics, data, number, tx.tx_hash, len(logs) + i)
                               for i, (address, topics, data) in enumerate(tx_logs))
            logs.extend(block_logs)
            included.append(tx.tx_hash)
            self._txs[tx.tx_hash] = tx
            receipts.append(Receipt(tx_hash=tx.tx_hash, status=status, block_number=number, gas_used=used,
                                    gas_limit=tx.gas, logs=block_logs,
                                    revert_reason=None if status else decode_revert_reason(output)))
        block = Block(number, timestamp, base_fee, gas_used,
                      block_hash_of(parent.hash, number, timestamp, base_fee, gas_used, included),
                      tuple(included), tuple(logs))
        self._blocks.append(block)
        self._env_block = number  # revm holds the new head's env: calls run there
        for receipt in receipts:
            self._receipts[receipt.tx_hash] = receipt
        if undo_accounts or undo_storage:
            self._undo[number] = (undo_accounts, undo_storage)
        self._undo.pop(number - self._history - 1, None)
        if refused:
            raise ChainError(
                f"block {number} sealed without {', '.join('0x' + h.hex() for h in refused)}: an impersonated "
                "contract was called back during its own transaction, which pyrevm cannot run as anvil does "
                "(EIP-3607 cannot be disabled, so its code was hidden)")
        return number

    def _execute(self, tx: PendingTx, base_fee: int, undo_accounts: dict[bytes, AccountTuple],
                 undo_storage: dict[tuple[bytes, int], int]) -> tuple[int, int, list[tuple[bytes, tuple[bytes, ...], bytes]], bytes] | None:
        """Run one transaction on a clean journal, settle its fees, write its changes to the database."""
        evm = self._evm
        sender = tx.sender
        hidden: AccountTuple | None = None
        if tx.impersonated:
            acct = self._account(sender)
            if acct[2] != KECCAK_EMPTY:  # EIP-3607 would refuse it: hide the code meanwhile
                hidden = acct
                evm.insert_account_info(self._a(sender), _info(acct[0], acct[1]))
        create = tx.to is None
        output = b""
        cp = evm.snapshot()
        try:
            try:
                if create:
                    evm.deploy(self._a(sender), tx.data, tx.value, tx.gas, tx.gas_price)
                else:
                    output = evm.message_call(self._a(sender), self._a(tx.to), tx.data,  # type: ignore[arg-type]
                                              tx.value, tx.gas, tx.gas_price)
            except RuntimeError as exc:
                m = _REVERT.search(str(exc))
                output = bytes.fromhex(m[2]) if m is not None else b""
            result = evm.result
            touched = scan_journal(evm.journal_str) if result is not None else []
            # a created contract's info, read while it is warm, carries revm's analysed code
            analysed = {ja.code_hash: evm.basic("0x" + ja.address) for ja in touched
                        if ja.code and ja.has_code}
        finally:
            evm.revert(cp)
        for ja in touched:
            info = analysed.pop(ja.code_hash, None)
            if info is not None and bytes.fromhex(ja.code_hash) not in self._codes:
                evm.insert_account_info("0x" + ja.address, info)  # first code of its hash: kept
        if hidden is not None:
            evm.insert_account_info(self._a(sender), _info(hidden[0], hidden[1], hidden[2]))
        if result is None:
            return None
        used = int(result.gas_used)
        diff = self._parse(touched)
        if hidden is not None and sender in diff.loaded_code:
            raise _CalledBack(tx.tx_hash)  # its code was hidden: the run is wrong, nothing is applied
        # Fees, as a node settles them (see the module docstring).
        bal, nonce, code = diff.accounts.get(sender) or self._account(sender)
        if create:
            diff.accounts[sender] = (bal, nonce, code)
        else:
            diff.accounts[sender] = (bal - used * tx.gas_price, nonce + 1, code)
        cb = diff.accounts.get(COINBASE) or self._account(COINBASE)
        paid_by_pyrevm = used * tx.gas_price if create else 0
        diff.accounts[COINBASE] = (cb[0] - paid_by_pyrevm + used * (tx.gas_price - base_fee), cb[1], cb[2])
        if hidden is not None:
            s = diff.accounts[sender]
            diff.accounts[sender] = (s[0], s[1], hidden[2])
        self._apply(diff, undo_accounts, undo_storage)
        logs = [] if not result.is_success else [
            (bytes.fromhex(lg.address[2:]), tuple(topics), data)
            for lg in result.logs for topics, data in (lg.data,)
        ]
        return (1 if result.is_success else 0), used, logs, output

    def _parse(self, touched: list[JournalAccount]) -> _Diff:
        """The accounts and slots whose value the journal holds differently from ours."""
        diff = _Diff({}, {}, {}, set())
        storage = self._storage
        fork = self._fork_block is not None
        addresses = self._unhex
        for ja in touched:
            address = addresses.get(ja.address)
            if address is None:
                address = addresses[ja.address] = bytes.fromhex(ja.address)
            if ja.has_code:
                diff.loaded_code.add(address)
            if "SelfDestructed" in ja.status:
                diff.accounts[address] = _EMPTY
                for key in [k for k in storage if k[0] == address]:
                    diff.storage[key] = 0
                continue
            info = (ja.balance, ja.nonce, bytes.fromhex(ja.code_hash))
            if info != self._account(address):
                diff.accounts[address] = info
                if ja.code and ja.has_code and info[2] not in self._codes:
                    diff.codes[info[2]] = ja.created_code()
            if ja.storage:
                for key_s, orig_s, present_s in _SLOT.findall(ja.storage):
                    key = (address, int(key_s))
                    present = int(present_s)
                    current = storage.get(key)
                    if current is None:
                        current = int(orig_s)
                        if fork and key not in self._origin_storage:
                            self._origin_storage[key] = current
                    if present != current:
                        diff.storage[key] = present
        return diff

    def _apply(self, diff: _Diff, undo_accounts: dict[bytes, AccountTuple],
               undo_storage: dict[tuple[bytes, int], int]) -> None:
        for code_hash, code in diff.codes.items():
            self._codes[code_hash] = code
        for address in diff.accounts:
            undo_accounts.setdefault(address, self._account(address))
        for key in diff.storage:
            undo_storage.setdefault(key, self._slot(key))
        self._write(diff.accounts, diff.storage, {})  # new code is in the database already, analysed

    def _set_account(self, address: bytes, info: AccountTuple) -> None:
        self._write({address: info}, {}, {})

    def _write(self, accounts: dict[bytes, AccountTuple], storage: dict[tuple[bytes, int], int],
               codes: dict[bytes, bytes]) -> None:
        """New head values: into the Python mirror and into revm's database."""
        fork = self._fork_block is not None
        for address, info in accounts.items():
            if fork and address not in self._accounts and address not in self._origin_accounts:
                self._origin_accounts[address] = self._read_db_account(address)
            if info == (self._origin_accounts.get(address, _EMPTY) if fork else _EMPTY):
                self._accounts.pop(address, None)
            else:
                self._accounts[address] = info
        for key, value in storage.items():
            if value == self._origin_storage.get(key, 0):
                self._storage.pop(key, None)
            else:
                self._storage[key] = value
        self._write_db(accounts, storage, codes)

    def _write_db(self, accounts: dict[bytes, AccountTuple], storage: dict[tuple[bytes, int], int],
                  codes: dict[bytes, bytes] | None = None) -> None:
        """Values into revm's database, every account left cold (out of the journal)."""
        evm = self._evm
        a = self._a
        for address, (balance, nonce, code_hash) in accounts.items():
            if address == COINBASE:  # revm keeps it in the journal for good: write it there
                evm.set_balance(a(address), balance)
                continue
            code = codes.get(code_hash) if codes else None
            if code:
                evm.insert_account_info(a(address), self._analysed_info(code))  # the hash's first code
            evm.insert_account_info(a(address), _info(balance, nonce, code_hash))
        for (address, slot), value in storage.items():
            # a cold account's slot goes to the database, but the account gets loaded: undo that
            cp = evm.snapshot()
            evm.insert_account_storage(a(address), slot, value)
            evm.revert(cp)

    def _analysed_info(self, code: bytes) -> AccountInfo:
        """An AccountInfo holding revm's analysed form of `code` (see the module docstring)."""
        evm = self._evm
        cp = evm.snapshot()
        try:
            created = evm.deploy(self._a(_INSTALLER), _installer_initcode(code), 0, GAS_LIMIT, 0)
            return evm.basic(created)
        finally:
            evm.revert(cp)

    # -- isolation -------------------------------------------------------------------
    def snapshot(self) -> object:
        sid = self._next_snapshot
        self._next_snapshot += 1
        self._snapshots[sid] = _Snapshot(dict(self._accounts), dict(self._storage), len(self._blocks),
                                         dict(self._undo), self._oldest_state)
        return sid

    def revert(self, snapshot_id: object) -> None:
        """Back to a snapshot; it is used up, and so is every later one (as on anvil).

        The pool is emptied (what one user left pending must not land in the next
        user's first block) and only values that differ are written back.
        """
        snap = self._snapshots.pop(snapshot_id, None)  # type: ignore[call-overload]
        if snap is None:
            raise NodeError("evm_revert", f"snapshot {snapshot_id!r} unknown or already used")
        for sid in [s for s in self._snapshots if s > snapshot_id]:  # type: ignore[operator]
            del self._snapshots[sid]
        self._pool.clear()
        self._pool_hashes.clear()
        accounts = {a: snap.accounts.get(a) or self._origin(a)
                    for a, _v in self._accounts.items() ^ snap.accounts.items()}
        storage = {k: snap.storage.get(k, self._origin_storage.get(k, 0))
                   for k, _v in self._storage.items() ^ snap.storage.items()}
        self._write_db(accounts, storage)
        self._accounts = snap.accounts
        self._storage = snap.storage
        for block in self._blocks[snap.blocks:]:
            for tx_hash in block.tx_hashes:
                self._receipts.pop(tx_hash, None)
                self._txs.pop(tx_hash, None)
        del self._blocks[snap.blocks:]
        self._undo = snap.undo
        self._oldest_state = snap.oldest_state
        self._env_block = -1
        self._use_block_env(self.block_number())

    def _origin(self, address: bytes) -> AccountTuple:
        return self._origin_accounts.get(address, _EMPTY)

    # -- node restarts ---------------------------------------------------------------
    def dump_state(self) -> bytes:
        """The chain as JSON: world, code, blocks, receipts (what a restarted node needs).

        A fork dumps what changed on top of the forked node (and the forked values it
        replaced); loading it forks the same node at the same block again.
        """
        fork = None if self._fork_block is None else [self._fork_url, self._fork_block]
        return json.dumps({
            "format": "dst-revm-state/1",
            "fork": fork,
            "origin_accounts": [[a.hex(), b, n, c.hex()] for a, (b, n, c) in self._origin_accounts.items()],
            "origin_storage": [[a.hex(), k, v] for (a, k), v in self._origin_storage.items()],
            "chain_id": self.chain_id,
            "base_fee": self._initial_base_fee,
            "accounts": [[a.hex(), b, n, c.hex()] for a, (b, n, c) in self._accounts.items()],
            "storage": [[a.hex(), k, v] for (a, k), v in self._storage.items()],
            "codes": [[h.hex(), c.hex()] for h, c in self._codes.items()],
            "blocks": [[b.number, b.timestamp, b.base_fee, b.gas_used, b.hash.hex(), [h.hex() for h in b.tx_hashes],
                        [[lg.address.hex(), [t.hex() for t in lg.topics], lg.data.hex(), lg.tx_hash.hex(),
                          lg.log_index] for lg in b.logs]] for b in self._blocks],
            "receipts": [[r.tx_hash.hex(), r.status, r.gas_used, r.gas_limit, r.revert_reason]
                         for r in self._receipts.values()],
            "transactions": [[t.tx_hash.hex(), t.sender.hex(), t.nonce, t.gas_price, t.gas,
                              t.to.hex() if t.to is not None else None, t.value, t.data.hex(), t.chain_id,
                              t.impersonated] for t in self._txs.values()],
        }, separators=(",", ":")).encode()

    def load_state(self, dump: bytes) -> None:
        """Replace this chain with a dumped one, on a new EVM: as a restarted node comes back.

        The pool and the snapshots do not survive (they die with a node process).
        """
        doc = json.loads(dump)
        if doc.get("format") != "dst-revm-state/1":
            raise ChainError("not a revm state dump (expected format dst-revm-state/1)")
        self.chain_id = int(doc["chain_id"])
        self._initial_base_fee = int(doc["base_fee"])
        self._accounts, self._storage, self._codes = {}, {}, {}
        self._origin_accounts = {bytes.fromhex(a): (int(b), int(n), bytes.fromhex(c))
                                 for a, b, n, c in doc["origin_accounts"]}
        self._origin_storage = {(bytes.fromhex(a), int(k)): int(v) for a, k, v in doc["origin_storage"]}
        if doc["fork"] is not None:
            if self._remote is not None:
                self._remote.close()
            self._blocks = []
            self._fork_url = doc["fork"][0]
            self._open_fork(doc["fork"][0], int(doc["fork"][1]))
        else:
            self._fork_url, self._fork_block, self._remote = None, None, None
            self._evm = self._new_evm()
        codes = {bytes.fromhex(h): bytes.fromhex(c) for h, c in doc["codes"]}
        self._codes = dict(codes)
        accounts = {bytes.fromhex(a): (int(b), int(n), bytes.fromhex(c)) for a, b, n, c in doc["accounts"]}
        storage = {(bytes.fromhex(a), int(k)): int(v) for a, k, v in doc["storage"]}
        self._write(accounts, storage, codes)
        blocks = []
        for number, ts, fee, used, h, txs, logs in doc["blocks"]:
            blocks.append(Block(number, ts, fee, used, bytes.fromhex(h), tuple(bytes.fromhex(t) for t in txs),
                                tuple(Log(bytes.fromhex(la), tuple(bytes.fromhex(t) for t in lt), bytes.fromhex(ld),
                                          number, bytes.fromhex(lh), li) for la, lt, ld, lh, li in logs)))
        self._blocks = blocks
        self._first_block = blocks[0].number
        logs_by_tx: dict[bytes, list[Log]] = {}
        block_of: dict[bytes, int] = {}
        for b in blocks:
            for lg in b.logs:
                logs_by_tx.setdefault(lg.tx_hash, []).append(lg)
            for t in b.tx_hashes:
                block_of[t] = b.number
        self._receipts = {}
        for h, status, used, limit, reason in doc["receipts"]:
            tx_hash = bytes.fromhex(h)
            self._receipts[tx_hash] = Receipt(tx_hash, status, block_of[tx_hash], used, limit,
                                              tuple(logs_by_tx.get(tx_hash, ())), reason)
        self._txs = {}
        for h, sender, nonce, price, gas, to, value, data, chain, imp in doc["transactions"]:
            self._txs[bytes.fromhex(h)] = PendingTx(bytes.fromhex(h), bytes.fromhex(sender), nonce, price, gas,
                                                    bytes.fromhex(to) if to is not None else None, value,
                                                    bytes.fromhex(data), chain, imp)
        self._undo = {}  # earlier states are not in a dump: calls below the loaded head are refused
        self._oldest_state = self.block_number()
        self._pool, self._pool_hashes = [], set()
        self._snapshots = {}
        self._env_block = -1
        self._use_block_env(self.block_number())

    def close(self) -> None:
        self._pool.clear()
        self._pool_hashes.clear()
        if self._remote is not None:
            self._remote.close()
