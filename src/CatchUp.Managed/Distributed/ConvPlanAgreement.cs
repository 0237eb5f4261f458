using System.Text;
using CatchUp.Backends.Cpu;

namespace CatchUp.Distributed;

/// <summary>
/// <c>--conv-algorithm auto</c> under several processes: rank 0 measures each new 3x3 shape and broadcasts its choice,
/// so that every rank computes with the same algorithms (a timing-based choice made per process would differ, and the
/// ranks would no longer hold the same weights bit for bit). The broadcast happens at the first call of each shape,
/// which every rank meets in the same order: the same network on the same per-rank batch.
/// </summary>
public static class ConvPlanAgreement
{
    private const int MaxName = 64;

    public static void Install(ConvPlan plan, ICommunicator comm)
    {
        if (comm.Size == 1) return;
        plan.Agree = (_, tune) =>
        {
            var buffer = new byte[MaxName];
            ConvChoice? mine = null;
            if (comm.IsRoot)
            {
                mine = tune();
                Encoding.ASCII.GetBytes(mine.Name, buffer);
            }
            comm.Broadcast(buffer, root: 0);
            return mine ?? ConvChoice.Parse(Encoding.ASCII.GetString(buffer).TrimEnd('\0'));
        };
    }
}
