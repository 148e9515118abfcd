"""Fixed locations inside the repository checkout."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / ".tools"
DEPLOY_DIR = REPO_ROOT / "deploy"
# 7,677 real campaign-feed messages (MIT licence beside the file): the realistic workload.
FEED_CSV = DEPLOY_DIR / "data" / "campaign_feed.csv"
