from django.core.management.base import BaseCommand, CommandError

from reports import scale


class Command(BaseCommand):
    help = (
        "Fill PostgreSQL with deterministic city-scale data (bulk INSERT … SELECT "
        "generate_series). district-large: 200,000 parents, 20,000 courses, 100,000 "
        "sessions, 2,000,000 enrolments, 50,000 events, 1,000,000 registrations, "
        "30,000 online lessons with 480,000 progress rows and their credits, and in the "
        "current term ~1.7 million growth-handbook claims (10 by hand for 75% of the "
        "families, one per present booking from attendance) with their tallies and a "
        "learning-family rule per alliance; the district's term survey at every parent school "
        "(answered by 30% of the families, every fourth anonymous) and session surveys on "
        "every tenth held session; 2,000 boards (one per parent school, the rest the groups') "
        "with 500,000 posts, and 5,000 buddy groups with their members."
    )

    def add_arguments(self, parser):
        parser.add_argument("--preset", choices=sorted(scale.PRESETS), default="small")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, preset, seed, **options):
        if scale.already_generated(preset, seed):
            # A data set built before the questionnaires gets them now.
            added = scale.surveys_add(preset_name=preset, seed=seed, log=self.stdout.write)
            if added:
                self.stdout.write(f"{preset} (seed {seed}): {added:,} surveys added.")
            posts = scale.community_add(preset_name=preset, seed=seed, log=self.stdout.write)
            if posts:
                self.stdout.write(f"{preset} (seed {seed}): boards with {posts:,} posts added.")
            self.stdout.write(f"{preset} (seed {seed}) is already in this database: nothing to do.")
            return
        try:
            counts = scale.generate(preset_name=preset, seed=seed, log=self.stdout.write)
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        total = sum(counts.values())
        self.stdout.write(self.style.SUCCESS(f"{preset} (seed {seed}): {total:,} rows"))
