-- Reserved for the policy (0007, bot/services/policy.py) feature, built on its own branch. Migrations must be
-- numbered without gaps, and digests (0008) came first on branch h8: at the merge, the
-- feature's real file replaces this placeholder (delete this one if its name differs).
SELECT 1;
