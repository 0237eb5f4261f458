namespace CatchUp.Distributed;

/// <summary>An MPI call that failed, or an MPI library that could not be used; the message names the call.</summary>
public sealed class MpiException(string message) : Exception(message);
