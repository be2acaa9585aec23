package pgread_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
)

// BenchmarkProjectorRowsPerSecond applies b.N AttemptScored records (one
// student each) through the results projection: one applier on one grades
// stream, and 8 appliers on 8 streams (as 8 partitions' consumers would),
// each record one transaction (claim, row, offset). Reports rows/s.
//
//	go test -run '^$' -bench ProjectorRowsPerSecond -benchtime 2000x ./projections/pgread/
func BenchmarkProjectorRowsPerSecond(b *testing.B) {
	for _, appliers := range []int{1, 8} {
		b.Run(fmt.Sprintf("appliers=%d", appliers), func(b *testing.B) {
			s := openStore(b)
			p := s.Results()
			// Records per applier, built before the clock starts.
			work := make([][]eventstore.Record, appliers)
			for i := range b.N {
				a := i % appliers
				exam := fmt.Sprintf("bench%d", a)
				work[a] = append(work[a], rec(b, domain.GradesStream(exam), int64(len(work[a])+1), domain.TypeAttemptScored,
					&domain.AttemptScored{ExamID: exam, AttemptID: fmt.Sprintf("att%d", i), StudentID: fmt.Sprintf("student%07d", i),
						Round: 1, Score: 7, MaxScore: 10, Answered: 10, GradedAt: t0,
						Questions: []domain.QuestionScore{{QuestionID: "q1", Choices: []string{"a"}, PointsAwarded: 1}}}))
			}
			ctx := b.Context()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, appliers)
			for a := range appliers {
				wg.Go(func() {
					for i, r := range work[a] {
						from := projections.Delivery{Topic: "exam.grades", Partition: int32(a), Offset: int64(i)}
						if err := p.ApplyRecord(ctx, r, from); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
			// Every row is there.
			var rows int
			for a := range appliers {
				got, err := s.ExamResults(ctx, fmt.Sprintf("bench%d", a))
				if err != nil {
					b.Fatal(err)
				}
				rows += len(got)
			}
			if rows != b.N {
				b.Fatalf("%d rows after %d records", rows, b.N)
			}
		})
	}
}
